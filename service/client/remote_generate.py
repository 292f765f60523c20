"""`veriframe generate --server ADDR ...`: generation through the service with a live progress bar.

Kept beside the SDK (light imports only); `service/cli/generate.py` calls `run_remote` when --server is given.
Exit codes (as veriframe-admin's): 0 the signed video was saved and verified; 1 blocked, rejected,
failed, rate limited or not verified; 2 bad usage or input (InvalidArgument, an unreadable file), or
the server unreachable or failing; 3 the server refused the key (unauthenticated, permission denied).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer


def run_remote(
    *,
    server: str,
    api_key: str | None,
    prompt: str,
    output: Path,
    tls: bool = False,
    root_cert: Path | None = None,
    client_cert: Path | None = None,
    client_key: Path | None = None,
    as_json: bool = False,
    timeout: float | None = None,
    **params: Any,
) -> None:
    """Submit `prompt` to the service, follow it, download the signed MP4 to `output`, verify it."""
    from rich.console import Console

    from veriframe.service.client import Client, VeriframeError

    console = Console(stderr=True)
    params = {k: v for k, v in params.items() if v is not None}
    tls_files = {"root_certificates": root_cert, "client_cert": client_cert, "client_key": client_key}
    try:
        with Client(server, api_key, tls=tls, **tls_files) as client:
            result = _follow(client, console, prompt, output, timeout, as_json, params)
    except (VeriframeError, OSError) as exc:
        code, text = _explain(exc)
        console.print(text)
        raise typer.Exit(code) from None
    _report(console, result, as_json)


def _follow(
    client: Any, console: Any, prompt: str, output: Path, timeout: float | None, quiet: bool, params: Any
) -> Any:
    """Generate through `client` with a progress bar (removed afterwards when `quiet`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=quiet) as bar:
        task = bar.add_task("submitting", total=None)

        def on_progress(update: Any) -> None:
            total = update.total_steps or None
            bar.update(task, description=update.state.lower(), completed=update.step, total=total)

        return client.generate(prompt, output=output, on_progress=on_progress, timeout=timeout, **params)


def _explain(exc: Exception) -> tuple[int, str]:
    """(exit code, what to print) for an SDK error or a file error."""
    from veriframe.service.client import (
        InvalidArgument,
        JobFailed,
        PermissionDenied,
        PromptBlocked,
        RateLimited,
        Unauthenticated,
        Unavailable,
    )

    if isinstance(exc, PromptBlocked):
        return 1, f"[red]blocked[/red]: {exc.message} (categories: {', '.join(exc.categories)})"
    if isinstance(exc, JobFailed):
        return 1, f"[red]{exc.message}[/red]"
    if isinstance(exc, InvalidArgument):
        return 2, f"[red]invalid {exc.field or 'request'}[/red]: {exc.description}"
    if isinstance(exc, RateLimited):
        return 1, f"[yellow]{exc.message}[/yellow]: retry in {exc.retry_after or 0:.1f} s"
    if isinstance(exc, (Unauthenticated, PermissionDenied)):
        return 3, f"[red]{type(exc).__name__}[/red]: {exc.message}"
    if isinstance(exc, Unavailable):
        return 2, f"[red]server unavailable[/red]: {exc.message}"
    if isinstance(exc, OSError):
        return 2, f"[red]cannot read or write a file[/red]: {exc}"
    return 2, f"[red]server error[/red]: {exc.message}"  # type: ignore[attr-defined]


def _report(console: Any, result: Any, as_json: bool) -> None:
    """Print the saved video and its verification; exit 1 when it is not verified."""
    import json

    summary = result.verification
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "job_id": result.job_id,
                    "path": str(result.path),
                    "provenance_id": result.provenance_id,
                    "sha256": result.sha256,
                    "verification": vars(summary) if summary else None,
                }
            )
        )
    else:
        console.print(f"saved [bold]{result.path}[/bold]  provenance id {result.provenance_id}")
        if summary is not None:
            console.print(
                f"verification: {summary.verdict} (watermark {summary.watermark_id or 'not found'}, "
                f"C2PA valid={summary.c2pa_valid} trusted={summary.c2pa_trusted}, "
                f"in ledger={summary.in_ledger})"
            )
    if summary is not None and not summary.verified:
        raise typer.Exit(1)
