"""`veriframe moderate`."""

import typer


def moderate() -> None:
    """(Being built: see the issue tracker.)"""
    typer.echo("veriframe moderate: not available in this build yet", err=True)
    raise typer.Exit(2)
