"""`veriframe-verify FILE...`: check a video's or image's watermark and C2PA manifest.

Exit codes: 0 every file verified; 1 at least one file not verified (missing/invalid manifest, tampered,
untrusted signer, no watermark, id mismatch); 2 usage error or an unreadable file.
"""

import json
from pathlib import Path

import typer

from veriframe.service.cli import connection

app = typer.Typer(name="veriframe-verify", pretty_exceptions_show_locals=False, add_completion=False)


@app.command()
def verify(
    files: list[Path] = typer.Argument(..., help="MP4, PNG or JPEG files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON report per file (a list)."),
    trust_anchor: list[Path] = typer.Option(
        [], "--trust-anchor", help="PEM root certificate to trust (repeatable); adds to the configured ones."
    ),
    server: str | None = connection.server(
        "Also look the file up in this service's audit log (host:port) and check the ledger's proof."
    ),
    api_key: str | None = connection.api_key("API key for --server (any role; env VERIFRAME_API_KEY)."),
    tls: bool = connection.tls("--server: "),
    tls_ca: Path | None = connection.tls_ca("--server: "),
    tls_cert: Path | None = connection.tls_cert("--server: "),
    tls_key: Path | None = connection.tls_key("--server: "),
    ledger_key: Path | None = typer.Option(
        None, "--ledger-key", help="The service's ledger-pub.pem: check checkpoint signatures with this key."
    ),
) -> None:
    """Verify the watermark and the C2PA manifest of each FILE (MP4, PNG, JPEG).

    Exit 0: every file verified (watermark found; manifest present, valid, trusted; same id).
    Exit 1: a file is not verified. Exit 2: usage error or an unreadable file.
    """
    from veriframe.provenance.keys import KeyFileError, load_trust_anchors
    from veriframe.provenance.verify import UnreadableInput, configured_trust_anchors, error_json, verify_file

    try:
        anchors = configured_trust_anchors() + load_trust_anchors(list(trust_anchor))
    except KeyFileError as exc:
        typer.echo(f"veriframe-verify: {exc}", err=True)
        raise typer.Exit(2) from None
    client = _client(server, api_key, tls, tls_ca, tls_cert, tls_key) if server else None
    reports, worst = [], 0
    for path in files:
        try:
            report = verify_file(path, trust_anchors=anchors)
        except UnreadableInput as exc:
            typer.echo(f"veriframe-verify: {exc}", err=True)
            reports.append(error_json(str(path), str(exc)))
            worst = 2
            continue
        if client is not None:
            _look_up(client, path, report, ledger_key)
        reports.append(report.to_json())
        if not report.verified:
            worst = max(worst, 1)
        if not as_json:
            typer.echo(report.summary())
            if report.audit and report.audit["found"] and not report.audit["redacted"]:
                audit = report.audit
                typer.echo(f"  ledger: job {audit['job_id']}, event #{audit['seq']} ({audit['event_type']}) "
                           f"recorded {audit['recorded_at']}; inclusion proof "
                           f"{'holds' if audit['proof']['ok'] else 'DOES NOT HOLD'}")
            for reason in report.reasons:
                typer.echo(f"  - {reason}")
    if as_json:
        typer.echo(json.dumps(reports, indent=2))
    raise typer.Exit(worst)


def _client(server: str, api_key: str | None, tls: bool, ca: Path | None, cert: Path | None,
            key: Path | None):  # -> service.client.Client
    from veriframe.service.client import Client

    if not api_key:
        typer.echo("veriframe-verify: --server needs an API key (--api-key or VERIFRAME_API_KEY)", err=True)
        raise typer.Exit(2)
    return Client(server, api_key, tls=tls or ca is not None, root_certificates=ca, client_cert=cert,
                  client_key=key, retries=2)


def _look_up(client, path: Path, report, ledger_key: Path | None) -> None:
    """Fill `report.audit` from the service; a missing record or a failed proof makes it not verified."""
    from veriframe.service.client import VeriframeError
    from veriframe.service.client.audit_lookup import lookup, problems

    try:
        report.audit = lookup(client, path, report, ledger_key=ledger_key)
    except VeriframeError as exc:
        typer.echo(f"veriframe-verify: the audit lookup at {client.options.resolved_address()} failed: {exc}",
                   err=True)
        raise typer.Exit(2) from None
    report.reasons.extend(problems(report.audit, report))
