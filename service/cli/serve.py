"""`veriframe serve`."""

import typer


def serve() -> None:
    """(Being built: see the issue tracker.)"""
    typer.echo("veriframe serve: not available in this build yet", err=True)
    raise typer.Exit(2)
