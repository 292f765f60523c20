"""`veriframe-admin`: the moderation admin tool."""

import typer

app = typer.Typer(
    name="veriframe-admin",
    help="Moderation admin tool: review queue, policies, API keys, audit log and stats.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
audit_app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


# --- `audit verify` (ledger owner): works locally against a database URL, no server needed. ---------

@audit_app.command("verify")
def audit_verify(
    database: str = typer.Option(..., "--database", envvar="VERIFRAME_DATABASE_URL",
                                 help="Database URL, e.g. sqlite:///veriframe.db or postgresql://user@host/db."),
    public_key: str | None = typer.Option(
        None, "--public-key", help="ledger-pub.pem: also check every checkpoint's ES256 signature."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Recompute the ledger's Merkle tree and checkpoints; list every edited, deleted, inserted or
    reordered event. Exit 0 intact, 1 tampering found, 2 unusable input or database unreachable."""
    import json
    from pathlib import Path

    from service.db import DatabaseUnavailable, make_engine, redact, session_factory
    from service.ledger import Ledger, LedgerError, load_public_key

    try:
        key = load_public_key(Path(public_key)) if public_key else None
    except (OSError, ValueError) as error:
        typer.echo(f"error: cannot read the public key {public_key}: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        engine = make_engine(database)
    except Exception as error:  # an unparseable URL or a missing driver: usage, not tampering
        typer.echo(f"error: cannot use database URL: {error}", err=True)
        raise typer.Exit(2) from None
    try:
        report = Ledger(session_factory(engine)).verify(public_key=key)
    except (DatabaseUnavailable, LedgerError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.dispose()

    if as_json:
        typer.echo(json.dumps({"database": redact(database), **report.to_dict()}, indent=2))
    else:
        signatures = "signatures checked"
        if not report.signatures_checked:
            signatures = "signatures NOT checked: pass --public-key"
        typer.echo(f"ledger {redact(database)}: {report.events} events, tree size {report.tree_size}, "
                   f"root {report.root_hash}, {report.checkpoints} checkpoints ({signatures})")
        for finding in report.findings:
            typer.echo(f"  {finding}")
        typer.echo("intact" if report.ok else f"TAMPERED: {len(report.findings)} finding(s)")
    raise typer.Exit(0 if report.ok else 1)


# --- end of `audit verify` ----------------------------------------------------------------------------
