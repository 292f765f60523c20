"""`veriframe generate`."""

import typer


def generate() -> None:
    """(Being built: see the issue tracker.)"""
    typer.echo("veriframe generate: not available in this build yet", err=True)
    raise typer.Exit(2)
