"""Submit throughput under 100 concurrent clients: the screening micro-batcher vs one classifier lock.

    .venv/bin/python bench/bench_submit_batching.py [--clients 100] [--per-client 3] [--rounds 2]

A real `veriframe serve` subprocess (API only, no worker, SQLite) per configuration, the same prompts, in
the same run, alternating (lock, batcher, lock, batcher, ...) so machine load hits both alike:
- lock (baseline): `screening_max_batch=1`, every Submit screens its prompt alone behind one
  process-wide lock (what the service did before `veriframe.safety.batching`);
- batcher: `screening_max_batch=32`, `screening_batch_window_ms=4` (the defaults): prompts that arrive
  together share one classifier call.
Every Submit is screened by the real default classifier and written with its ledger records; the figure
is submits per second over the whole burst, plus p50/p95 latency. Prompts differ per request (no cache).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_service import PARAMS, percentile
from bench.served import served, workspace

SUBJECTS = ["a sailing boat", "a red fox", "an old lighthouse", "a street market", "a hot air balloon"]
PLACES = ["on a calm lake at sunset", "in fresh snow", "on a windy cliff", "at night in the rain"]
CONFIGS = {"lock": {"screening_max_batch": 1}, "batcher": {"screening_max_batch": 32,
                                                           "screening_batch_window_ms": 4}}


def prompt(index: int, n: int) -> str:
    return f"{SUBJECTS[index % 5]} {PLACES[(index // 5) % 4]}, cinematic, shot {index}-{n}"


async def burst(address: str, key: str, clients: int, per_client: int) -> tuple[list[float], float]:
    from veriframe.service.client import AsyncClient

    latencies: list[float] = []

    async def one(index: int) -> None:
        async with AsyncClient(address, key, timeout=300) as client:
            for n in range(per_client):
                start = time.perf_counter()
                await client.submit(prompt(index, n), **PARAMS)
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(clients)))
    return latencies, time.perf_counter() - start


def run_config(work: Path, model: Path, keys: Path, name: str, clients: int, per_client: int) -> dict:
    with served(work, "sqlite", model_dir=model, keys_dir=keys, workers=0, tenant_queue_cap=1_000_000,
                **CONFIGS[name]) as server:
        key = server.key("client", tenant=f"bench-{name}")
        asyncio.run(burst(server.address, key, 4, 5))  # warm up: the classifier loads on first use
        latencies, wall = asyncio.run(burst(server.address, key, clients, per_client))
    return {"throughput": len(latencies) / wall, "p50_ms": percentile(latencies, 50) * 1000,
            "p95_ms": percentile(latencies, 95) * 1000, "requests": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--per-client", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each configuration")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    results: dict[str, list[dict]] = {name: [] for name in CONFIGS}
    with workspace("vf-bench-batching-") as (work, model, keys):
        for round_index in range(args.rounds):
            for name in CONFIGS:
                r = run_config(work, model, keys, name, args.clients, args.per_client)
                results[name].append(r)
                print(f"  round {round_index + 1} {name:8s} {r['throughput']:6.1f} submits/s  "
                      f"p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  ({r['requests']} submits)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    median = {name: statistics.median(r["throughput"] for r in runs) for name, runs in results.items()}
    print(f"Submit throughput, {args.clients} concurrent clients x {args.per_client} (median of "
          f"{args.rounds} runs): lock {median['lock']:.1f}/s, micro-batcher {median['batcher']:.1f}/s, "
          f"ratio {median['batcher'] / median['lock']:.2f}x")


if __name__ == "__main__":
    main()
