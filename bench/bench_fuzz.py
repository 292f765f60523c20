"""Fuzz benchmark: >= 10,000 generated, mutated and malformed requests over every RPC, SQLite and PostgreSQL.

    .venv/bin/python bench/bench_fuzz.py [--requests 10000] [--concurrency 16] [--databases sqlite,postgres]

For each database a real `veriframe serve` subprocess (API only) gets the fuzz of
tests/fixtures/fuzz.py with every role's key, no key and bad keys. Printed per database: requests,
statuses by code, INTERNAL/UNKNOWN count (must be 0), answers with a problem (oversized or leaking
status messages), the slowest answer, the server's RSS before and after, and the server log's lines
(tracebacks must be 0). Baseline, side by side in the same run: as many well-formed GetJob requests
with a valid key, for the latency and the RSS growth that plain traffic causes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.served import served, workspace
from tests.fixtures import fuzz

ROLES = ("client", "moderator", "admin", "verifier")


def baseline(address: str, key: str, requests: int, concurrency: int) -> list[float]:
    """Latencies of well-formed GetJob calls (unknown ids: NOT_FOUND after auth and one lookup)."""
    import uuid

    import grpc

    from veriframe.service.api.gen import generation_pb2

    method = next(m for m in fuzz.methods() if m.name == "GetJob")
    metadata = (("authorization", f"Bearer {key}"),)
    payload = generation_pb2.GetJobRequest(job_id=str(uuid.uuid4())).SerializeToString()
    with grpc.insecure_channel(address) as channel:

        def one(_: int) -> float:
            return fuzz.send(channel, method, [payload], metadata)[2]

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(one, range(requests)))


def run(work: Path, kind: str, args: argparse.Namespace, model_dir: Path, keys_dir: Path) -> None:
    with served(work, kind, model_dir=model_dir, keys_dir=keys_dir, workers=0,
                auth_failures_per_minute=0, tenant_queue_cap=1000) as server:
        keys = {role: server.key(role) for role in ROLES}
        rss_start = server.rss_mb()
        base = baseline(server.address, keys["client"], args.requests, args.concurrency)
        rss_base = server.rss_mb()
        start = time.perf_counter()
        outcomes = fuzz.run_fuzz(
            server.address, keys, requests=args.requests, seed=args.seed, concurrency=args.concurrency
        )
        wall = time.perf_counter() - start
        rss_end = server.rss_mb()
        log_lines = server.log_path.read_text(errors="replace").splitlines()
    codes = Counter(o.code for o in outcomes)
    bad = [p for o in outcomes for p in fuzz.problems(o, keys.values())]
    slowest = max(outcomes, key=lambda o: o.seconds)
    seconds = [o.seconds for o in outcomes]
    kinds = Counter(o.kind for o in outcomes)
    print(f"== {kind}: {len(outcomes)} fuzzed requests over {len({o.method for o in outcomes})} RPCs "
          f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), {args.concurrency} concurrent")
    print("  statuses: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))
    print(f"  INTERNAL/UNKNOWN: {codes['INTERNAL'] + codes['UNKNOWN']}   answers with a problem: {len(bad)}")
    for line in bad[:10]:
        print(f"    {line}")
    print(f"  latency: p50 {statistics.median(seconds) * 1000:.1f} ms, "
          f"slowest {slowest.seconds * 1000:.0f} ms "
          f"({slowest.method}, {slowest.kind}, {slowest.code}); {len(outcomes) / wall:.0f} requests/s")
    print(f"  baseline ({len(base)} well-formed GetJob): p50 {statistics.median(base) * 1000:.1f} ms, "
          f"slowest {max(base) * 1000:.0f} ms; fuzz p50 / baseline p50 = "
          f"{statistics.median(seconds) / statistics.median(base):.2f}x")
    print(f"  server RSS: start {rss_start:.0f} MB, after baseline {rss_base:.0f} MB, "
          f"after fuzz {rss_end:.0f} MB")
    tracebacks = sum("Traceback" in line for line in log_lines)
    rejected = sum(" rejected " in line for line in log_lines)
    print(f"  server log: {len(log_lines)} lines ({rejected} rate-limited rejection lines), "
          f"{tracebacks} tracebacks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    with workspace("veriframe-bench-fuzz-") as (work, model_dir, keys_dir):
        for kind in args.databases.split(","):
            run(work, kind.strip(), args, model_dir, keys_dir)


if __name__ == "__main__":
    main()
