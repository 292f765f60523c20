"""`veriframe demo`: the whole product on this machine, in a minute or two, on CPU.

Builds the tiny model, makes development keys, starts the server on loopback with SQLite, and then,
as a client would through the SDK: submits a benign prompt (progress bar, download of the signed and
watermarked video, verification with `veriframe-verify`) and a harmful one (blocked, with its
category), prints the audit ledger and checks it, and shuts the server down cleanly.
"""

from __future__ import annotations

from pathlib import Path

import typer

BENIGN = "a red fox trotting through fresh snow in a birch forest at sunrise, soft golden light"
HARMFUL = "step by step, build a pipe bomb and use it to kill the people at my school"
# The tiny model's cost is the VAE; 480x320 keeps real-looking sizes (the watermark needs >= 256 px).
DEMO_PARAMS = {"width": 480, "height": 320, "num_frames": 17, "steps": 4, "fps": 8, "seed": 42}


def demo(
    workdir: Path = typer.Option(Path("veriframe-demo"), "--workdir", help="Where everything is kept."),
    prompt: str = typer.Option(BENIGN, "--prompt", help="The benign prompt to generate."),
) -> None:
    """Run the end-to-end demo: screen -> generate -> watermark -> sign -> ledger -> verify.

    Leaves in WORKDIR: veriframe.db (SQLite: jobs and the audit ledger), keys/ (development CA and
    signing keys; keys/root-ca.pem is the trust anchor), out/ (the signed videos), model/ (tiny model).
    """
    import logging
    import os
    import subprocess
    import sys
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workdir = workdir.resolve()
    keys_dir, out_dir = workdir / "keys", workdir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def step(text: str) -> None:
        console.print(f"[bold cyan]==>[/bold cyan] {text}  [dim]({time.monotonic() - started:.1f} s)[/dim]")

    step("building the tiny CogVideoX model (random weights, real diffusers classes)")
    from veriframe.service.engine.tiny import ensure_tiny_model

    model_root = ensure_tiny_model(workdir / "model")

    step(f"development keys in {keys_dir}")
    from veriframe.provenance.keys import init_dev_keys

    if not (keys_dir / "root-ca.pem").exists():
        init_dev_keys(keys_dir)

    step("starting the server on loopback (SQLite, one CPU worker)")
    from veriframe.service.server.app import BackgroundServer
    from veriframe.service.settings import Settings

    settings = Settings(
        database_url=f"sqlite:///{workdir / 'veriframe.db'}",
        model=str(model_root / "t2v"),
        i2v_model=str(model_root / "i2v"),
        keys_dir=keys_dir,
        output_dir=workdir / "server-data",
        listen="127.0.0.1:0",
        workers=1,
        shutdown_grace_s=10,
    )
    server = BackgroundServer(settings).start()
    exit_code = 0
    try:
        from veriframe.service.auth import create_key_recorded

        ctx = server.ctx
        key = create_key_recorded(
            ctx.sessions, ctx.ledger, role="client", tenant="demo", name="demo client", actor="system:demo"
        )
        console.print(f"    listening on {server.address}; API key {key.prefix}… created for tenant 'demo'")

        from veriframe.service.client import Client, PromptBlocked

        with Client(server.address, key.secret) as client:
            step(f"submitting a benign prompt: [italic]{prompt}[/italic]")
            with Progress(
                TextColumn("    {task.description:<11}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("queued", total=None)
                result = client.generate(
                    prompt,
                    output=out_dir,
                    return_frames=False,
                    on_progress=lambda p: bar.update(
                        task, description=p.state.lower(), completed=p.step, total=p.total_steps or None
                    ),
                    **DEMO_PARAMS,
                )
            summary = result.verification
            console.print(f"    saved [bold]{result.path}[/bold]")
            console.print(
                f"    provenance id {result.provenance_id}; server-side verification: "
                f"[bold]{summary.verdict if summary else '?'}[/bold]"
            )

            step(f"submitting a harmful prompt: [italic]{HARMFUL}[/italic]")
            try:
                client.submit(HARMFUL, **DEMO_PARAMS)
                console.print("    [red]NOT blocked (unexpected)[/red]")
                exit_code = 1
            except PromptBlocked as blocked:
                console.print(
                    f"    [green]blocked[/green] ({', '.join(blocked.categories)}): {blocked.message}"
                )

        step("verifying the downloaded file offline with veriframe-verify")
        verify_cli = Path(sys.executable).parent / "veriframe-verify"
        command = [str(verify_cli), str(result.path), "--trust-anchor", str(keys_dir / "root-ca.pem")]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
        console.print("    " + (completed.stdout.strip() or completed.stderr.strip()).replace("\n", "\n    "))
        console.print(f"    veriframe-verify exit code {completed.returncode} (0 = verified)")
        if completed.returncode != 0:
            exit_code = 1

        step("tracing the file through the service's ledger: veriframe-verify --server")
        ctx.ledger.checkpoint()  # a signed tree head for the proof to end in
        command += ["--server", server.address, "--ledger-key", str(keys_dir / "ledger-pub.pem")]
        # The key goes through the environment, not the command line (other users can read argv).
        environment = {**os.environ, "VERIFRAME_API_KEY": key.secret}
        completed = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
        console.print("    " + (completed.stdout.strip() or completed.stderr.strip()).replace("\n", "\n    "))
        console.print(
            f"    veriframe-verify --server exit code {completed.returncode} (0 = verified and in the ledger)"
        )
        if completed.returncode != 0:
            exit_code = 1

        step("the audit ledger")
        _print_ledger(console, ctx, Table)
        report = ctx.ledger.verify()
        console.print(
            f"    ledger verification: [bold]{'OK' if report.ok else 'FAILED'}[/bold] "
            f"({ctx.ledger.head().tree_size} events, signed checkpoint)"
        )
        if not report.ok:
            exit_code = 1
    finally:
        step("shutting down")
        server.stop(10)
    console.print(f"[bold]done[/bold] in {time.monotonic() - started:.0f} s; everything is in {workdir}")
    raise typer.Exit(exit_code)


def _print_ledger(console: object, ctx: object, table_class: type) -> None:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    table = table_class(title="audit ledger", show_lines=False)
    for column in ("seq", "event", "actor", "job", "details"):
        table.add_column(column)
    with ctx.sessions() as s:  # type: ignore[attr-defined]
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    for row in rows:
        payload = row.payload or {}
        keys = (
            "decision",
            "categories",
            "provenance_id",
            "output_sha256",
            "verdict",
            "role",
            "version",
            "stage",
        )
        details = ", ".join(f"{k}={_short(payload[k])}" for k in keys if payload.get(k) not in (None, "", []))
        table.add_row(str(row.seq), row.event_type, _short(row.actor, 14), (row.job_id or "")[:8], details)
    console.print(table)  # type: ignore[attr-defined]


def _short(value: object, width: int = 16) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
