"""Service benchmark: what the service adds around the model, and Submit latency under load.

    .venv/bin/python bench/bench_service.py [--runs 8] [--clients 100] [--per-client 3]

1. Overhead per request. The same small generation (tiny model, 256x256, 9 frames, 2 steps) two ways,
   side by side in this run: the libraries called directly (Engine.generate + provenance.mark_video:
   the baseline) and the whole service through the SDK (submit -> screen -> ledger -> queue -> claim ->
   generate -> mark -> ledger -> events -> download). The difference is the service's own overhead:
   everything except the diffusion and the marking, which both paths run.
2. Submit latency under 100 concurrent clients: a real `veriframe serve` subprocess (API only, no
   worker, so the queue just fills) and 100 asyncio clients each submitting N prompts (each one
   screened by the classifier and written with its ledger records). Baseline: one client alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.served import served, workspace

PARAMS = {"width": 256, "height": 256, "num_frames": 9, "num_inference_steps": 2, "fps": 8}
PROMPT = "a sailing boat on a calm lake at sunset, reflections on the water, cinematic"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_overhead(work: Path, model_dir: Path, keys_dir: Path, runs: int) -> dict[str, float]:
    direct = _direct_path(work, model_dir, keys_dir)
    server, client, inner = _service_path(work, model_dir, keys_dir)

    def service(index: int) -> tuple[float, float]:
        inner.clear()
        start = time.perf_counter()
        client.generate(PROMPT, output=work / f"svc-{index}.mp4", verify=False, seed=1, **PARAMS)
        return time.perf_counter() - start, sum(inner)

    direct(-1), service(-1)  # warm-up: first-call costs (lazy imports, caches) on both paths
    d, s, own = [], [], []
    for index in range(runs):  # interleaved so both see the same machine load
        d.append(direct(index))
        total, model_and_marking = service(index)
        s.append(total)
        own.append(total - model_and_marking)
    client.close()
    server.stop(5)
    return {
        "direct_median_s": statistics.median(d),
        "service_median_s": statistics.median(s),
        "overhead_ms": statistics.median(own) * 1000,
        "overhead_p95_ms": percentile(own, 95) * 1000,
        "ratio": statistics.median(s) / statistics.median(d),
    }


def _direct_path(work: Path, model_dir: Path, keys_dir: Path) -> Callable[[int], float]:
    """The baseline: the libraries called directly (Engine.generate, then provenance.mark_video)."""
    from veriframe.provenance.ids import new_provenance_id
    from veriframe.provenance.keys import load_keys_dir
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import mark_video
    from veriframe.service.engine import Engine, GenerationParams

    engine = Engine.load(str(model_dir))
    keys = load_keys_dir(keys_dir)
    gp = GenerationParams(
        prompt=PROMPT, width=256, height=256, num_frames=9, num_inference_steps=2, fps=8, seed=1
    )

    def direct(index: int) -> float:
        start = time.perf_counter()
        video = engine.generate(gp)
        info = ManifestInfo(
            provenance_id=new_provenance_id(),
            model_name=video.model.name,
            model_version=video.model.version,
            audit_ref="bench",
            params={k: v for k, v in video.params.items() if "prompt" not in k},
        )
        mark_video(video.frames, video.fps, work / f"direct-{index}.mp4", info, keys)
        return time.perf_counter() - start

    return direct


def _service_path(work: Path, model_dir: Path, keys_dir: Path) -> tuple[Any, Any, list[float]]:
    """The whole service (one worker) and an SDK client; the list collects, per request, the seconds
    spent in the model and the marking inside the server (the rest is the service's own cost)."""
    from veriframe.service.auth import create_key_recorded
    from veriframe.service.client import Client
    from veriframe.service.server.app import BackgroundServer
    from veriframe.service.settings import Settings

    settings = Settings(
        database_url=f"sqlite:///{work / 'overhead.db'}",
        model=str(model_dir),
        keys_dir=keys_dir,
        output_dir=work / "server",
        listen="127.0.0.1:0",
        workers=1,
        rate_limit_per_minute=1e6,
        rate_limit_burst=100000,
    )
    server = BackgroundServer(settings).start()
    key = create_key_recorded(
        server.ctx.sessions, server.ctx.ledger, role="client", tenant="bench", actor="bench"
    ).secret
    client = Client(server.address, key)
    while not server.ctx.workers[0].engine:  # the worker loads its model in the background
        time.sleep(0.1)
    from veriframe.service.flow import execute

    inner: list[float] = []
    served_engine = server.ctx.workers[0].engine.main
    # The workflow calls `execute.mark` through the module: wrapping the attribute times every call.
    for obj, name in ((served_engine, "generate"), (execute, "mark")):
        original = getattr(obj, name)

        def timed(*a, _original=original, **kw):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return _original(*a, **kw)
            finally:
                inner.append(time.perf_counter() - start)

        setattr(obj, name, timed)
    return server, client, inner


async def _submit_load(address: str, key: str, clients: int, per_client: int) -> tuple[list[float], float]:
    from veriframe.service.client import AsyncClient

    latencies: list[float] = []

    async def one(index: int) -> None:
        async with AsyncClient(address, key, timeout=120) as client:
            for n in range(per_client):
                start = time.perf_counter()
                await client.submit(f"{PROMPT} (client {index}, request {n})", **PARAMS)
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return latencies, time.perf_counter() - start


def bench_submit(
    work: Path, model_dir: Path, keys_dir: Path, clients: int, per_client: int
) -> dict[str, float]:
    # API only (no worker: the queue just fills); WARNING keeps the per-request log lines out of the timing.
    with served(
        work, "sqlite", model_dir=model_dir, keys_dir=keys_dir, log_level="WARNING", workers=0,
        tenant_queue_cap=100000,
    ) as server:
        key = server.key("client", tenant="load")
        alone, _ = asyncio.run(_submit_load(server.address, key, 1, 20))
        loaded, wall = asyncio.run(_submit_load(server.address, key, clients, per_client))
    return {
        "alone_p50_ms": percentile(alone, 50) * 1000,
        "alone_p95_ms": percentile(alone, 95) * 1000,
        "p50_ms": percentile(loaded, 50) * 1000,
        "p95_ms": percentile(loaded, 95) * 1000,
        "p99_ms": percentile(loaded, 99) * 1000,
        "max_ms": max(loaded) * 1000,
        "throughput_per_s": len(loaded) / wall,
        "requests": len(loaded),
        "p50_ratio_vs_alone": percentile(loaded, 50) / percentile(alone, 50),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--per-client", type=int, default=3)
    args = parser.parse_args()
    with workspace("veriframe-bench-") as (work, model_dir, keys_dir):
        overhead = bench_overhead(work, model_dir, keys_dir, args.runs)
        print(f"overhead per request ({args.runs} runs, tiny model 256x256x9, 2 steps):")
        print(f"  libraries directly (baseline)   median {overhead['direct_median_s'] * 1000:8.1f} ms")
        print(f"  through the service (SDK)       median {overhead['service_median_s'] * 1000:8.1f} ms")
        print(f"  ratio service / direct                 {overhead['ratio']:8.2f}x")
        print(
            f"  service's own time per request  median {overhead['overhead_ms']:8.1f} ms  "
            f"p95 {overhead['overhead_p95_ms']:.1f} ms (end to end minus model and marking, measured inside)"
        )
        load = bench_submit(work, model_dir, keys_dir, args.clients, args.per_client)
        print(f"Submit latency, {args.clients} concurrent clients x {args.per_client} (API only, SQLite):")
        print(
            f"  one client alone (baseline)     p50 {load['alone_p50_ms']:7.1f} ms"
            f"  p95 {load['alone_p95_ms']:7.1f} ms"
        )
        print(
            f"  {args.clients} concurrent clients          p50 {load['p50_ms']:7.1f} ms"
            f"  p95 {load['p95_ms']:7.1f} ms"
            f"  p99 {load['p99_ms']:7.1f} ms  max {load['max_ms']:7.1f} ms"
        )
        print(
            f"  throughput {load['throughput_per_s']:.1f} submits/s over {load['requests']} requests; "
            f"p50 ratio vs alone {load['p50_ratio_vs_alone']:.1f}x"
        )


if __name__ == "__main__":
    main()
