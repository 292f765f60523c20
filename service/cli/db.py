"""`veriframe db ...`: create and migrate the database schema (Alembic, run from the installed package)."""

from collections.abc import Callable
from pathlib import Path

import typer

app = typer.Typer(help="Database schema: upgrade, downgrade, current revision; prompt-hash conversion.",
                 no_args_is_help=True)

DATABASE_OPTION = typer.Option(..., "--database", envvar="VERIFRAME_DATABASE_URL",
                               help="Database URL, e.g. sqlite:///veriframe.db or postgresql://user@host/db.")


def _run(action: Callable[..., object], *args: str) -> None:
    from veriframe.service.db import DatabaseUnavailable

    try:
        action(*args)
    except DatabaseUnavailable as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def upgrade(database: str = DATABASE_OPTION,
            revision: str = typer.Option("head", help="Target revision.")) -> None:
    """Create the schema on an empty database, or migrate it up to REVISION."""
    from veriframe.service.db import redact
    from veriframe.service.db import upgrade as do_upgrade

    _run(do_upgrade, database, revision)
    typer.echo(f"{redact(database)}: upgraded to {revision}")


@app.command()
def downgrade(database: str = DATABASE_OPTION,
              revision: str = typer.Option(..., help="Target revision ('base' drops every table).")) -> None:
    """Migrate the schema down to REVISION (this drops data, the audit ledger included, at 'base')."""
    from veriframe.service.db import downgrade as do_downgrade
    from veriframe.service.db import redact

    _run(do_downgrade, database, revision)
    typer.echo(f"{redact(database)}: downgraded to {revision}")


@app.command()
def current(database: str = DATABASE_OPTION) -> None:
    """Print the database's migration revision and the newest one this code knows."""
    from veriframe.service.db import DatabaseUnavailable, head, redact
    from veriframe.service.db import current as get_current

    try:
        revision = get_current(database)
    except DatabaseUnavailable as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    latest = head()
    state = "up to date" if revision == latest else f"behind (newest is {latest})"
    typer.echo(f"{redact(database)}: {revision or 'empty (no migrations applied)'}, {state}")


@app.command("convert-prompt-hashes")
def convert_prompt_hashes(
    database: str = DATABASE_OPTION,
    keys_dir: Path = typer.Option(..., "--keys-dir", envvar="VERIFRAME_KEYS_DIR",
                                  help="The server's keys directory (its prompt-commitment.key)."),
    batch_size: int = typer.Option(500, "--batch-size", min=1, help="Rows per transaction."),
) -> None:
    """Replace the plain prompt SHA-256 of jobs recorded before 0007 with their keyed commitment.

    Safe to stop and run again: each batch is one transaction, converted rows are left alone."""
    from sqlalchemy import inspect

    from veriframe.provenance.prompt_commitment import KEY_FILE, PromptKeyError, load_prompt_key
    from veriframe.service.db import (
        DatabaseUnavailable,
        make_engine,
        redact,
        session_factory,
        unavailable_as_error,
    )
    from veriframe.service.flow.commitments import convert_prompt_hashes as convert

    try:
        # Loaded, never created: a key made here for a mistyped directory would commit old rows to a
        # key the server does not have.
        key = load_prompt_key(keys_dir / KEY_FILE)
    except PromptKeyError as error:
        typer.echo(f"error: {error} (pass the keys_dir the server signs with; it creates the key at start)",
                   err=True)
        raise typer.Exit(2) from None
    engine = make_engine(database)
    try:
        with unavailable_as_error(f"database {redact(database)}"):
            schema = inspect(engine)
            columns = {c["name"] for c in schema.get_columns("jobs")} if schema.has_table("jobs") else set()
        if "prompt_commitment" not in columns:
            typer.echo(f"error: {redact(database)} has no jobs.prompt_commitment column: run "
                       "`veriframe db upgrade` first (migration 0007_prompt_commitments)", err=True)
            raise typer.Exit(2)
        total = convert(session_factory(engine), key, batch=batch_size,
                        on_batch=lambda done: typer.echo(f"  {done} jobs converted", err=True))
    except DatabaseUnavailable as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    except ValueError as error:
        typer.echo(f"error: {error}; nothing of its batch was written", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(f"{redact(database)}: {total} jobs converted to prompt commitments (key {key.key_id})")
