"""`veriframe provenance ...`: apply Veriframe's watermark and C2PA manifest to existing videos."""

import json
from pathlib import Path

import typer

app = typer.Typer(help="Watermark and sign videos exactly as the service does.", no_args_is_help=True)


@app.command("mark")
def mark(
    src: Path = typer.Argument(..., help="Input video (MP4 or anything PyAV decodes)."),
    dst: Path = typer.Argument(..., help="Output: watermarked, signed H.264 MP4."),
    keys: Path | None = typer.Option(None, "--keys", help="Key directory made by `veriframe keys init`."),
    cert: Path | None = typer.Option(None, "--cert", help="PEM chain, signer first (instead of --keys)."),
    key: Path | None = typer.Option(None, "--key", help="PEM private key of --cert."),
    frames_dir: Path | None = typer.Option(None, "--frames-dir", help="Also export signed PNG frames."),
    tsa_url: str | None = typer.Option(None, "--tsa-url", help="RFC 3161 timestamp authority (optional)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object instead of text."),
) -> None:
    """Watermark every frame of SRC with a new provenance id, encode and sign it to DST; print the id."""
    from veriframe.provenance.ids import format_id
    from veriframe.provenance.keys import KeyFileError, load_keys_dir, load_signing_keys
    from veriframe.provenance.mark import mark_file
    from veriframe.provenance.media import MediaError
    from veriframe.provenance.signing import SigningError

    if (keys is None) == (cert is None) or (cert is None) != (key is None):
        typer.echo("veriframe provenance mark: give either --keys DIR or both --cert and --key", err=True)
        raise typer.Exit(2)
    try:
        if keys is not None:
            signing_keys = load_keys_dir(keys, tsa_url=tsa_url)
        else:
            signing_keys = load_signing_keys(cert, key, tsa_url=tsa_url)
        result = mark_file(src, dst, signing_keys, frames_dir=frames_dir)
    except (KeyFileError, MediaError, ValueError, OSError) as exc:
        typer.echo(f"veriframe provenance mark: {exc}", err=True)
        raise typer.Exit(2) from None
    except SigningError as exc:
        typer.echo(f"veriframe provenance mark: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({
            "provenance_id": format_id(result.provenance_id),
            "output": str(result.mp4_path),
            "manifest_sha256": result.manifest_sha256,
            "content_sha256": result.content_sha256,
            "frames": [str(p) for p in result.frame_paths],
            "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
        }, indent=2))
    else:
        typer.echo(format_id(result.provenance_id))
