"""`veriframe model ...`."""

import typer

app = typer.Typer(help="(Being built: see the issue tracker.)", no_args_is_help=True)
