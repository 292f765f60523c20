"""`veriframe demo`."""

import typer


def demo() -> None:
    """(Being built: see the issue tracker.)"""
    typer.echo("veriframe demo: not available in this build yet", err=True)
    raise typer.Exit(2)
