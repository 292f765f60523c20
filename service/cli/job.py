"""`veriframe job get|list|wait|download|cancel`: follow jobs on the service from any machine.

Over the SDK with a client key (the tenant's own jobs only). Connection options go after the
sub-command (`veriframe job wait JOB --server HOST:PORT`), or in VERIFRAME_SERVER / VERIFRAME_API_KEY.
Exit codes (`veriframe.service.cli.follow`): 0 ok (wait: the job succeeded); 1 the job ended without
a video, or not found; 2 usage or the server unreachable; 3 the key was refused; 4 wait's --timeout
passed with the job still pending (held for review, queued or running).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

from veriframe.service.cli import connection
from veriframe.service.cli import follow as F

app = typer.Typer(help="Follow jobs on the service: get, list, wait, download, cancel.", no_args_is_help=True)



def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def connected(
    server: str | None,
    api_key: str | None,
    tls: bool = False,
    tls_ca: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> Iterator[Any]:
    """A Client, with every SDK error turned into its message and exit code."""
    from veriframe.service.client import Client
    from veriframe.service.client import errors as E

    if not server:
        _fail(F.EXIT_USAGE, "no server: pass --server HOST:PORT or set VERIFRAME_SERVER")
    if not api_key:
        _fail(F.EXIT_USAGE, "no API key: pass --api-key or set VERIFRAME_API_KEY")
    missing = connection.missing_tls_file(tls_ca, tls_cert, tls_key)
    if missing:
        _fail(F.EXIT_USAGE, missing)
    client = Client(
        server, api_key, tls=tls, root_certificates=tls_ca, client_cert=tls_cert, client_key=tls_key
    )
    try:
        with client:
            yield client
    except (E.PermissionDenied, E.Unauthenticated) as error:
        _fail(F.EXIT_DENIED, f"{type(error).__name__}: {error.message}")
    except E.RateLimited as error:
        _fail(F.EXIT_NEGATIVE, f"{error.message}: retry in {error.retry_after or 0:.1f} s")
    except (E.NotFound, E.FailedPrecondition) as error:
        _fail(F.EXIT_NEGATIVE, error.message)
    except E.InvalidArgument as error:
        _fail(F.EXIT_USAGE, f"invalid {error.field or 'request'}: {error.description or error.message}")
    except E.Unavailable as error:
        _fail(F.EXIT_USAGE, f"server {server} unavailable: {error.message}")
    except E.VeriframeError as error:
        _fail(F.EXIT_USAGE, error.message)
    except OSError as error:
        _fail(F.EXIT_USAGE, f"cannot read or write a file: {error}")


def _print(job: Any, as_json: bool) -> None:
    typer.echo(json.dumps(job.as_dict()) if as_json else F.describe(job))


CONNECTION = ("server", "api_key", "tls", "tls_ca", "tls_cert", "tls_key")


def with_connection(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a sub-command the connection options (after its own: `veriframe job get JOB --server ...`)
    and call it with `connect`: opens the SDK client, turning every SDK error into its message and
    exit code (`connected`)."""
    options = {
        "server": (str | None, connection.server("Server address host:port.")),
        "api_key": (str | None, connection.api_key("Client API key.")),
        "tls": (bool, connection.tls()),
        "tls_ca": (Path | None, connection.tls_ca()),
        "tls_cert": (Path | None, connection.tls_cert()),
        "tls_key": (Path | None, connection.tls_key()),
    }
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "connect"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in options.items()
    ]

    @functools.wraps(command)
    def run(**values: Any) -> Any:
        settings = {name: values.pop(name) for name in CONNECTION}
        return command(connect=lambda: connected(*settings.values()), **values)

    run.__signature__ = inspect.Signature(own + added)  # type: ignore[attr-defined]
    return run


@app.command("get")
@with_connection
def get(
    job_id: str = typer.Argument(..., help="The job id (printed by `veriframe generate --server`)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    *,
    connect: Callable[[], Any],  # given by with_connection
) -> None:
    """Show one job: state, progress, error, provenance id."""

    with connect() as client:
        _print(client.get_job(job_id), as_json)


@app.command("list")
@with_connection
def list_jobs(
    state: list[str] = typer.Option(
        [], "--state", help="Only jobs in this state (repeatable): queued, review, running, succeeded..."
    ),
    limit: int = typer.Option(20, "--limit", min=1, max=500, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="A JSON array on stdout."),
    *,
    connect: Callable[[], Any],  # given by with_connection
) -> None:
    """Your tenant's jobs, newest first."""
    from veriframe.service.api.gen import common_pb2

    try:
        states = [common_pb2.JobState.Value(f"JOB_STATE_{name.upper()}") for name in state]
    except ValueError:
        _fail(F.EXIT_USAGE, f"--state: one of {', '.join(_state_names())}")
    with connect() as client:
        jobs = client.list_jobs(page_size=limit, states=states).jobs
    if as_json:
        typer.echo(json.dumps([j.as_dict() for j in jobs]))
        return
    for job in jobs:
        typer.echo(F.describe(job))


def _state_names() -> list[str]:
    from veriframe.service.api.gen import common_pb2

    return [n.removeprefix("JOB_STATE_").lower() for n in common_pb2.JobState.keys()[1:]]


@app.command("wait")
@with_connection
def wait(
    job_id: str = typer.Argument(..., help="The job id."),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.1, help="Give up after this many seconds (exit 4; the job goes on)."
    ),
    download: str | None = typer.Option(
        None, "--download", "-o", help="When it succeeds, save the signed video here (file or directory/)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    *,
    connect: Callable[[], Any],  # given by with_connection
) -> None:
    """Follow a job until it ends (or --timeout): state changes, progress, review holds."""
    from rich.console import Console


    console = Console(stderr=True)
    with connect() as client:
        job = client.get_job(job_id)
        address = client.options.resolved_address()
        job = F.follow(client, job, console=console, server=address, timeout=timeout, bar=not as_json)
        path = None
        if download is not None and job.state == "SUCCEEDED":
            path = client.download(job.id, download)
    if as_json:
        typer.echo(json.dumps({**job.as_dict(), "path": str(path) if path else None}))
    else:
        typer.echo(F.describe(job))
        if path is not None:
            typer.echo(f"saved {path}")
    raise typer.Exit(F.outcome_code(job))


@app.command("download")
@with_connection
def download(
    job_id: str = typer.Argument(..., help="The job id."),
    output: str = typer.Option(
        ".", "--output", "-o", help="File, or directory (existing, or ending with /) for the server's name."
    ),
    what: str = typer.Option("video", "--what", help="video, frames_zip (signed PNG frames) or frame."),
    frame: int = typer.Option(0, "--frame", min=0, help="--what frame: which frame."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    *,
    connect: Callable[[], Any],  # given by with_connection
) -> None:
    """Save a succeeded job's signed video (or frames); the SHA-256 the server announced is checked."""
    with connect() as client:
        path = client.download(job_id, output, what=what, frame_index=frame)
    typer.echo(json.dumps({"job_id": job_id, "path": str(path)}) if as_json else f"saved {path}")


@app.command("cancel")
@with_connection
def cancel(
    job_id: str = typer.Argument(..., help="The job id."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
    *,
    connect: Callable[[], Any],  # given by with_connection
) -> None:
    """Cancel a job that has not ended (a running one stops between steps)."""

    with connect() as client:
        _print(client.cancel_job(job_id), as_json)
