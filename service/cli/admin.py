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
