"""`veriframe-verify FILE...`: check a video's or image's watermark and C2PA manifest.

Exit codes: 0 every file verified; 1 at least one file not verified (missing/invalid manifest, tampered,
untrusted signer, no watermark, id mismatch); 2 usage error or an unreadable file.
"""

import json
from pathlib import Path

import typer

app = typer.Typer(name="veriframe-verify", pretty_exceptions_show_locals=False, add_completion=False)


@app.command()
def verify(
    files: list[Path] = typer.Argument(..., help="MP4, PNG or JPEG files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report per file (a list)."),
    trust_anchor: list[Path] = typer.Option(
        [], "--trust-anchor", help="PEM root certificate to trust (repeatable); adds to the configured ones."
    ),
    server: str | None = typer.Option(None, "--server", help="Also look the id up in a service's audit log."),
) -> None:
    """Verify the watermark and the C2PA manifest of each FILE (MP4, PNG, JPEG).

    Exit 0: every file verified (watermark found; manifest present, valid, trusted; same id).
    Exit 1: a file is not verified. Exit 2: usage error or an unreadable file.
    """
    if server is not None:
        typer.echo("veriframe-verify: --server (audit lookup) is not available in this build", err=True)
        raise typer.Exit(2)
    from provenance.keys import KeyFileError, load_trust_anchors
    from provenance.verify import UnreadableInput, configured_trust_anchors, verify_file

    try:
        anchors = configured_trust_anchors() + load_trust_anchors(list(trust_anchor))
    except KeyFileError as exc:
        typer.echo(f"veriframe-verify: {exc}", err=True)
        raise typer.Exit(2) from None
    reports, worst = [], 0
    for path in files:
        try:
            report = verify_file(path, trust_anchors=anchors)
        except UnreadableInput as exc:
            typer.echo(f"veriframe-verify: {exc}", err=True)
            reports.append({"schema": "veriframe.verify/1", "file": str(path), "verdict": "error",
                            "error": str(exc)})
            worst = 2
            continue
        reports.append(report.to_json())
        if not report.verified:
            worst = max(worst, 1)
        if not as_json:
            typer.echo(report.summary())
            for reason in report.reasons:
                typer.echo(f"  - {reason}")
    if as_json:
        typer.echo(json.dumps(reports, indent=2))
    raise typer.Exit(worst)
