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
    import json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from veriframe.service.client import (
        Client,
        InvalidArgument,
        JobFailed,
        PermissionDenied,
        PromptBlocked,
        RateLimited,
        Unauthenticated,
        Unavailable,
        VeriframeError,
    )

    console = Console(stderr=True)
    params = {k: v for k, v in params.items() if v is not None}
    try:
        with (
            Client(
                server,
                api_key,
                tls=tls,
                root_certificates=root_cert,
                client_cert=client_cert,
                client_key=client_key,
            ) as client,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=as_json,
            ) as bar,
        ):
            task = bar.add_task("submitting", total=None)

            def on_progress(update: Any) -> None:
                total = update.total_steps or None
                bar.update(task, description=update.state.lower(), completed=update.step, total=total)

            result = client.generate(
                prompt, output=output, on_progress=on_progress, timeout=timeout, **params
            )
    except PromptBlocked as exc:
        console.print(f"[red]blocked[/red]: {exc.message} (categories: {', '.join(exc.categories)})")
        raise typer.Exit(1) from None
    except JobFailed as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from None
    except InvalidArgument as exc:
        console.print(f"[red]invalid {exc.field or 'request'}[/red]: {exc.description}")
        raise typer.Exit(2) from None
    except RateLimited as exc:
        console.print(f"[yellow]{exc.message}[/yellow]: retry in {exc.retry_after or 0:.1f} s")
        raise typer.Exit(1) from None
    except (Unauthenticated, PermissionDenied) as exc:
        console.print(f"[red]{type(exc).__name__}[/red]: {exc.message}")
        raise typer.Exit(3) from None
    except Unavailable as exc:
        console.print(f"[red]server unavailable[/red]: {exc.message}")
        raise typer.Exit(2) from None
    except OSError as exc:
        console.print(f"[red]cannot read or write a file[/red]: {exc}")
        raise typer.Exit(2) from None
    except VeriframeError as exc:
        console.print(f"[red]server error[/red]: {exc.message}")
        raise typer.Exit(2) from None
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
