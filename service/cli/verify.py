"""`veriframe-verify FILE...`: check a video's or image's watermark and C2PA manifest."""

import typer

app = typer.Typer(name="veriframe-verify", pretty_exceptions_show_locals=False)


@app.command()
def verify(files: list[str]) -> None:
    """Verify the watermark and the C2PA manifest of each FILE (MP4, PNG, JPEG)."""
    typer.echo("veriframe-verify: not available in this build yet", err=True)
    raise typer.Exit(2)
