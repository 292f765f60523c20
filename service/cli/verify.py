"""`veriframe-verify FILE...`: check a video's or image's watermark and C2PA manifest.

Exit codes: 0 every file verified; 1 at least one file not verified (missing/invalid/damaged manifest,
tampered, content the signature does not cover, untrusted signer, no watermark, id mismatch); 2 usage
error or an unreadable file. Every file gets its own result, whatever happens to the others.
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
        [], "--trust-anchor", help="PEM root certificate, or a PEM bundle such as the C2PA trust list, to "
                                   "trust (repeatable); adds to $VERIFRAME_TRUST_ANCHORS."
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
    witness_key: list[Path] = typer.Option(
        [], "--witness-key", help="--server: a witness's verifier key (W.vkey, from `veriframe-admin audit "
        "witness --init`); the checkpoint the inclusion proof is checked against must carry its "
        "cosignature (repeatable)."
    ),
    witness_quorum: int | None = typer.Option(
        None, "--witness-quorum", min=0, help="--server: cosignatures required from the --witness-key "
        "witnesses (default: 1 with --witness-key); fewer: the file is not verified (exit 1)."
    ),
    state_dir: Path | None = typer.Option(
        None, "--state-dir", help="--server: remember the largest checkpoint seen per log here and demand a "
        "consistency proof from it on every later lookup (rollback or fork: exit 1)."
    ),
    manifest: bool = typer.Option(
        False, "--manifest", "--detailed",
        help="Also print the whole C2PA manifest store as JSON (as c2patool does); with --json, as "
             "each report's manifest_store field.",
    ),
    prompt_file: Path | None = typer.Option(
        None, "--prompt-file", help="Check that the manifest's prompt commitment opens to the prompt in "
                                    "this UTF-8 file: the operator with --prompt-key, the job's owner with "
                                    "--server (the service checks it).",
    ),
    prompt_key: list[Path] = typer.Option(
        [], "--prompt-key", help="The deployment's prompt-commitment.key (repeatable, for rotated keys).",
    ),
) -> None:
    """Verify the watermark and the C2PA manifest of each FILE (MP4, PNG, JPEG).

    Exit 0: every file verified (watermark found; manifest present, valid, trusted; same id; nothing
    in the file that the signature does not cover). Exit 1: a file is not verified. Exit 2: usage
    error or an unreadable file. Every file gets its own result; the run goes on past bad files.
    """
    from veriframe.provenance.keys import KeyFileError, load_trust_anchors
    from veriframe.provenance.prompt_commitment import PromptKeyError, load_prompt_key
    from veriframe.provenance.verify import configured_trust_anchors

    try:
        anchors = configured_trust_anchors() + load_trust_anchors(list(trust_anchor))
        prompt = _prompt_check(prompt_file, [load_prompt_key(k) for k in prompt_key], bool(server))
    except (KeyFileError, PromptKeyError) as exc:
        typer.echo(f"veriframe-verify: {exc}", err=True)
        raise typer.Exit(2) from None
    witnesses, quorum = _witnesses(witness_key, witness_quorum, server)
    client = _client(server, api_key, tls, tls_ca, tls_cert, tls_key) if server else None

    def look_up(path: Path, report) -> None:
        owner_prompt = prompt[0] if prompt is not None and not prompt[1] else ""  # no key: the server checks
        _look_up(client, path, report, ledger_key, state_dir, witnesses, quorum, owner_prompt)

    reports, worst = [], 0
    for path in files:
        entry, code = _verify_one(path, anchors, look_up if client else None, manifest, prompt, as_json)
        reports.append(entry)
        worst = max(worst, code)
    if as_json:
        typer.echo(json.dumps(reports, indent=2))
    raise typer.Exit(worst)


TRUST_HINT = ("to trust this signer, pass its root CA with --trust-anchor ROOT.pem (repeatable; a PEM "
              "bundle such as the C2PA trust list works) or list PEM files in $VERIFRAME_TRUST_ANCHORS")


def _prompt_check(prompt_file: Path | None, keys: list, server: bool):  # -> (prompt text, keys) | None
    if prompt_file is None:
        if keys:
            raise typer.BadParameter("--prompt-key needs --prompt-file")
        return None
    if not keys and not server:
        typer.echo("veriframe-verify: --prompt-file needs --prompt-key (the deployment's key) or --server "
                   "with the job owner's API key (the service checks it)", err=True)
        raise typer.Exit(2)
    try:
        return prompt_file.read_text(encoding="utf-8"), keys
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"veriframe-verify: cannot read --prompt-file {prompt_file}: {exc}", err=True)
        raise typer.Exit(2) from None


def _verify_one(path: Path, anchors: list[bytes], look_up, manifest: bool,
                prompt, as_json: bool) -> tuple[dict, int]:
    """One file's JSON entry and exit code; nothing one file does can stop the run."""
    from veriframe.provenance.verify import UnreadableInput, error_json, verify_file

    try:
        report = verify_file(path, trust_anchors=anchors)
    except UnreadableInput as exc:
        typer.echo(f"veriframe-verify: {exc}", err=True)
        return error_json(str(path), str(exc)), 2
    except Exception as exc:  # a bug met by a hostile file: that file's error, the run goes on
        message = f"{path}: could not be verified (internal error {type(exc).__name__}; please report it)"
        typer.echo(f"veriframe-verify: {message}", err=True)
        return error_json(str(path), message), 2
    if look_up is not None:
        look_up(path, report)
    if prompt is not None and prompt[1]:
        _check_prompt(report, *prompt)
    entry = report.to_json_with_store() if manifest else report.to_json()
    untrusted = report.c2pa.valid and not report.c2pa.trusted
    if untrusted:
        entry["hint"] = TRUST_HINT
    if not as_json:
        _print(report, entry, manifest, untrusted)
    return entry, 0 if report.verified else 1


def _check_prompt(report, text: str, keys: list) -> None:
    """Operator's check of the keyed prompt commitment; a mismatch makes the file not verified."""
    from veriframe.provenance.prompt_commitment import PromptKeyError, opens

    commitment = report.c2pa.prompt_commitment
    if not isinstance(commitment, dict):
        report.prompt_matches = None
        report.reasons.append("the manifest carries no prompt commitment to check")
        return
    try:
        report.prompt_matches = opens(commitment, text, keys)
    except PromptKeyError as exc:
        report.prompt_matches = None
        report.reasons.append(f"prompt not checked: {exc}")
        return
    if not report.prompt_matches:
        report.reasons.append("the prompt given does not match the manifest's prompt commitment")


def _print(report, entry: dict, manifest: bool, untrusted: bool) -> None:
    typer.echo(report.summary())
    if report.audit and report.audit["found"] and not report.audit["redacted"]:
        audit = report.audit
        typer.echo(f"  ledger: job {audit['job_id']}, event #{audit['seq']} ({audit['event_type']}) "
                   f"recorded {audit['recorded_at']}; inclusion proof "
                   f"{'holds' if audit['proof']['ok'] else 'DOES NOT HOLD'}")
    if report.prompt_matches is not None:
        typer.echo(f"  prompt commitment: {'matches' if report.prompt_matches else 'DOES NOT MATCH'}")
    for reason in report.reasons:
        typer.echo(f"  - {reason}")
    if untrusted:
        typer.echo(f"  hint: {TRUST_HINT}")
    if manifest:
        typer.echo(json.dumps(entry.get("manifest_store"), indent=2))


def _client(server: str, api_key: str | None, tls: bool, ca: Path | None, cert: Path | None,
            key: Path | None):  # -> service.client.Client
    from veriframe.service.client import Client

    if not api_key:
        typer.echo("veriframe-verify: --server needs an API key (--api-key or VERIFRAME_API_KEY)", err=True)
        raise typer.Exit(2)
    return Client(server, api_key, tls=tls or ca is not None, root_certificates=ca, client_cert=cert,
                  client_key=key, retries=2)


def _witnesses(files: list[Path], quorum: int | None, server: str | None) -> tuple[list, int]:
    """The --witness-key verifiers and the cosignatures required of them; exit 2 on unusable input."""
    from veriframe.provenance.transparency.cosignature import load_quorum

    if (files or quorum) and not server:
        typer.echo("veriframe-verify: --witness-key / --witness-quorum check the ledger's checkpoint: "
                   "they need --server", err=True)
        raise typer.Exit(2)
    try:
        return load_quorum(files, quorum)
    except OSError as exc:
        typer.echo(f"veriframe-verify: cannot read a --witness-key: {exc}", err=True)
    except ValueError as exc:
        typer.echo(f"veriframe-verify: {exc}", err=True)
    raise typer.Exit(2)


def _look_up(client, path: Path, report, ledger_key: Path | None, state_dir: Path | None,
             witnesses: list, quorum: int, prompt: str) -> None:
    """Fill `report.audit` from the service; a missing record or a failed proof makes it not verified.
    With `prompt` (the owner's), the service's check of it too; a mismatch makes it not verified."""
    from veriframe.provenance.transparency.monitor import ConsistencyError
    from veriframe.provenance.transparency.note import NoteError
    from veriframe.service.client import VeriframeError
    from veriframe.service.client.audit_lookup import Trust, lookup, problems

    try:
        trust = Trust(ledger_key, witnesses, quorum)
        report.audit = lookup(client, path, report, trust=trust, state_dir=state_dir, prompt=prompt)
    except (ConsistencyError, NoteError) as exc:
        # The log contradicts what this verifier saw before: nothing it says now can be trusted.
        typer.echo(f"veriframe-verify: {path}: the ledger at {client.options.resolved_address()} is not "
                   f"trustworthy: {exc} (state in {state_dir})", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"veriframe-verify: cannot use --state-dir {state_dir}: {exc}", err=True)
        raise typer.Exit(2) from None
    except VeriframeError as exc:
        typer.echo(f"veriframe-verify: the audit lookup at {client.options.resolved_address()} failed: {exc}",
                   err=True)
        raise typer.Exit(2) from None
    report.reasons.extend(problems(report.audit, report))
    checked = report.audit.pop("prompt_check", None)
    if checked is not None:
        report.prompt_matches = {"matches": True, "does_not_match": False}.get(checked["outcome"])
        if report.prompt_matches is None:
            report.reasons.append(f"prompt not checked by the service: {checked['reason']}")
        elif not report.prompt_matches:
            report.reasons.append("the prompt given does not match the job's prompt commitment")
