"""`veriframe generate --server ADDR ...`: generation through the service.

Kept beside the SDK (light imports only); `service/cli/generate.py` calls `run_remote` when --server is
given. The job id is printed as soon as the server accepts the job; a job held for human review is
said so plainly, with how to follow it from elsewhere (`veriframe job wait`). `--no-wait` stops there.
Exit codes (`veriframe.service.cli.follow`): 0 the signed video was saved and verified (--no-wait: the
job was accepted); 1 blocked, rejected, failed, cancelled, rate limited or not verified; 2 bad usage or
input, or the server unreachable or failing; 3 the server refused the key; 4 --timeout passed with the
job still pending (e.g. held for review): it goes on, follow it with `veriframe job wait`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def run_remote(
    *,
    server: str,
    api_key: str | None,
    prompt: str,
    output: str | Path,
    tls: bool = False,
    root_cert: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    as_json: bool = False,
    wait: bool = True,
    timeout: float | None = None,
    **params: Any,
) -> None:
    """Submit `prompt`, print the job id, follow it, download the signed MP4 to `output`, verify it."""
    from rich.console import Console

    from veriframe.service.cli import follow as F
    from veriframe.service.cli.job import connected
    from veriframe.service.client import PromptBlocked

    console = Console(stderr=True)
    params = {k: v for k, v in params.items() if v is not None}
    with connected(server, api_key, tls, root_cert, client_cert, client_key) as client:
        try:
            job = client.submit(prompt, **params).job  # no bar before validation errors
        except PromptBlocked as exc:
            _blocked(exc, as_json)
        console.print(f"job {job.id} accepted: {job.state.lower()}")
        if not wait:
            _report(job, None, None, as_json)
            if job.held:
                console.print(F.held_message(job, server))
            raise typer.Exit(F.EXIT_OK)
        job = F.follow(client, job, console=console, server=server, timeout=timeout, bar=not as_json)
        if not job.ended:
            console.print(f"job {job.id} is still {job.state.lower()}: veriframe job wait {job.id}")
            _report(job, None, None, as_json)
            raise typer.Exit(F.EXIT_PENDING)
        if job.state != "SUCCEEDED":
            console.print(f"[red]{F.describe(job)}[/red]")
            _report(job, None, None, as_json)
            raise typer.Exit(F.EXIT_NEGATIVE)
        path = client.download(job.id, output)
        if params.get("return_frames"):
            client.download(job.id, path.parent, what="frames_zip")
        summary = client.verify(path).summary()
    _report(job, path, summary, as_json)
    if not as_json:
        console.print(
            f"saved [bold]{path}[/bold]  provenance id {job.provenance_id}\n"
            f"verification: {summary.verdict} (watermark {summary.watermark_id or 'not found'}, "
            f"C2PA valid={summary.c2pa_valid} trusted={summary.c2pa_trusted}, in ledger={summary.in_ledger})"
        )
    if not summary.verified:
        raise typer.Exit(F.EXIT_NEGATIVE)


def _blocked(exc: Any, as_json: bool) -> None:
    from veriframe.service.cli import follow as F

    if as_json:
        typer.echo(
            json.dumps(
                {
                    "job_id": getattr(exc, "job_id", "") or None,
                    "state": "REJECTED",
                    "error": {"code": "PROMPT_BLOCKED", "message": exc.message, "categories": exc.categories},
                }
            )
        )
    typer.echo(f"blocked: {exc.message} (categories: {', '.join(exc.categories)})", err=True)
    raise typer.Exit(F.EXIT_NEGATIVE)


def _report(job: Any, path: Path | None, summary: Any, as_json: bool) -> None:
    """--json: one object on stdout (job_id, state, ... and, once saved, path and verification)."""
    if not as_json:
        return
    document = {
        **job.as_dict(),
        "path": str(path) if path else None,
        "sha256": job.video_sha256 or None,
        "verification": vars(summary) if summary else None,
    }
    typer.echo(json.dumps(document))
