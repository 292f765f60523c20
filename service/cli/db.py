"""`veriframe db ...`: create and migrate the database schema (Alembic, run from the installed package)."""

from collections.abc import Callable

import typer

app = typer.Typer(help="Database schema: upgrade, downgrade, current revision.", no_args_is_help=True)

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
