"""`veriframe serve`: run the gRPC server (API + generation workers) until SIGTERM / SIGINT."""

from __future__ import annotations

from pathlib import Path

import typer

from veriframe.service.cli import engine_flags as flags

CONFIG = typer.Option(
    None, "--config", "-c", envvar="VERIFRAME_CONFIG",
    help="Settings file (TOML or JSON); VERIFRAME_* variables override it.",
)
WORKER_ONLY = typer.Option(
    False, "--worker-only", help="No gRPC port: only run workers (a worker host; see docs/operations.md)."
)
HTTP_LISTEN = typer.Option(
    None, "--http-listen", help="host:port for /metrics, /healthz, /readyz (off by default)."
)
LOG_FORMAT = typer.Option(
    "text", "--log-format", envvar="VERIFRAME_LOG_FORMAT", help="text, or json (one object a line)."
)


def serve(
    config: Path = CONFIG,
    listen: str = typer.Option(None, "--listen", help="host:port (default 127.0.0.1:50051)."),
    database: str = typer.Option(None, "--database", help="Database URL (SQLite file or PostgreSQL)."),
    model: str = typer.Option(None, "--model", help="Model id or checkpoint directory."),
    keys_dir: Path = typer.Option(None, "--keys", help="Signing keys directory (veriframe keys init)."),
    output_dir: Path = typer.Option(None, "--output-dir", help="Where signed videos are kept."),
    workers: int = typer.Option(None, "--workers", help="Generation workers (one per GPU; 0 = API only)."),
    worker_only: bool = WORKER_ONLY,
    device: str = typer.Option(None, "--device", help="torch device, e.g. cuda or cpu."),
    devices: str = flags.DEVICES,
    parallel: str = flags.PARALLEL,
    sequence_parallel: str = flags.SEQUENCE_PARALLEL,
    compile: str = flags.COMPILE,
    attention: str = flags.ATTENTION,
    fp8: bool = flags.FP8,
    cache: str = flags.CACHE,
    warmup: str = flags.WARMUP,
    http_listen: str = HTTP_LISTEN,
    log_level: str = typer.Option("INFO", "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
    log_format: str = LOG_FORMAT,
) -> None:
    """Serve the Veriframe gRPC API: screen, generate, watermark, sign, record.

    Settings come from defaults < --config file < VERIFRAME_* environment variables < these options
    (see docs/service.md). The database is migrated to the newest schema at start. SIGTERM drains:
    the running job finishes within shutdown_grace_s or goes back to the queue.

    Exit codes: 0 stopped cleanly; 2 bad settings, or the server cannot start (missing or unreadable
    C2PA signing keys, ledger key, trust anchors or TLS files; the listen address in use).
    """
    import asyncio
    import contextlib

    from pydantic import ValidationError

    from veriframe.service.observability import logs
    from veriframe.service.settings import load_settings

    try:
        logs.configure(log_level, log_format)  # type: ignore[arg-type]
    except ValueError as exc:
        typer.echo(f"veriframe serve: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        settings = load_settings(
            config,
            listen=listen,
            database_url=database,
            model=model,
            keys_dir=keys_dir,
            output_dir=output_dir,
            workers=workers,
            worker_only=True if worker_only else None,
            device=device,
            **flags.engine_overrides(
                devices=devices, compile=compile, attention=attention, fp8=fp8, cache=cache, warmup=warmup,
                parallel=parallel, sequence_parallel=sequence_parallel,
            ),
            http_listen=http_listen,
        )
    except (ValidationError, OSError, ValueError) as exc:
        typer.echo(f"veriframe serve: bad settings: {exc}", err=True)
        raise typer.Exit(2) from None
    from veriframe.service.server.app import StartupError, serve_forever

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever(settings))
    except StartupError as exc:
        typer.echo(f"veriframe serve: cannot start: {exc}", err=True)
        raise typer.Exit(2) from None
