"""Ledger benchmark: append throughput and proof time at 100k events, on SQLite and PostgreSQL.

Baselines, measured side by side in the same run:
- appends: one event per transaction (`Ledger.append`, what a request does) vs batches of 1,000
  (`Ledger.append_many`);
- proofs: the ledger's method (O(log n) stored nodes, fetched in one query per table) vs the naive
  one (read every leaf hash and rebuild the tree).

    .venv/bin/python bench/bench_ledger.py [--events 100000] [--single 2000] [--backends sqlite,postgres]

PostgreSQL: a scratch database is created through VERIFRAME_TEST_POSTGRES_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test) and dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.served import database
from veriframe.provenance.transparency import merkle
from veriframe.service.db import AuditEvent, make_engine, session_factory, upgrade
from veriframe.service.ledger import EventInput, Ledger

PAYLOAD = {  # the size of a real "generated" event
    "model": "CogVideoX-2b", "seed": 1234, "params": {"steps": 50, "guidance_scale": 6.0, "frames": 49},
    "output_sha256": "ab" * 32, "manifest_sha256": "cd" * 32, "provenance_id": "0123456789abcdef",
}


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A fresh database of `kind` (sqlite, postgres) for one run, removed afterwards (bench/served.py)."""
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp), kind) as url:
        yield url


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def naive_inclusion(url: str, seq: int) -> list[bytes]:
    """The baseline: every leaf hash from the database, then the RFC recursion over all of them."""
    with session_factory(url)() as s:
        leaves = [bytes.fromhex(h) for h in s.scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq))]
    return merkle.ListTree(leaves).inclusion_path(seq)


def naive_consistency(url: str, first: int) -> list[bytes]:
    with session_factory(url)() as s:
        leaves = [bytes.fromhex(h) for h in s.scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq))]
    return merkle.ListTree(leaves).consistency_proof(first)


def run(backend: str, url: str, events: int, single: int) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)
    ledger = Ledger(session_factory(engine))
    rng = random.Random(7)
    r: dict[str, float] = {}

    t = timed(lambda: [ledger.append("generated", PAYLOAD, actor="worker-1", tenant="t1", job_id=f"job-{i}")
                       for i in range(single)])
    r["single_per_s"] = single / t
    batch = [EventInput("generated", PAYLOAD, "worker-1", "t1", "job-x") for _ in range(1000)]
    remaining = events - single
    t = timed(lambda: [ledger.append_many(batch[: min(1000, remaining - done)])
                       for done in range(0, remaining, 1000)])
    r["batched_per_s"] = remaining / t
    assert ledger.head().tree_size == events

    seqs = [rng.randrange(events) for _ in range(200)]
    times = [timed(lambda s=s: ledger.inclusion_proof(s)) for s in seqs]
    r["inclusion_ms"] = statistics.median(times) * 1e3
    firsts = [rng.randrange(1, events) for _ in range(200)]
    times = [timed(lambda f=f: ledger.consistency_proof(f)) for f in firsts]
    r["consistency_ms"] = statistics.median(times) * 1e3
    times = [timed(lambda s=s: naive_inclusion(url, s)) for s in seqs[:5]]
    r["naive_inclusion_ms"] = statistics.median(times) * 1e3
    times = [timed(lambda f=f: naive_consistency(url, f)) for f in firsts[:5]]
    r["naive_consistency_ms"] = statistics.median(times) * 1e3
    # Same answers both ways (a benchmark of a wrong proof is worthless).
    assert [bytes.fromhex(h) for h in ledger.inclusion_proof(seqs[0]).path] == naive_inclusion(url, seqs[0])
    r["verify_s"] = timed(lambda: ledger.verify())
    engine.dispose()
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--single", type=int, default=2_000, help="events appended one per transaction")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    print(f"ledger benchmark: {args.events} events ({args.single} one per transaction, the rest in batches "
          "of 1000)")
    header = (f"{'backend':9} {'append/s single':>15} {'append/s batch':>14} {'ratio':>6} "
              f"{'incl ms':>8} {'naive ms':>9} {'ratio':>6} {'cons ms':>8} {'naive ms':>9} {'ratio':>6} "
              f"{'verify s':>8}")
    print(header)
    for backend in args.backends.split(","):
        with scratch_database(backend) as url:
            r = run(backend, url, args.events, args.single)
        print(f"{backend:9} {r['single_per_s']:15.0f} {r['batched_per_s']:14.0f} "
              f"{r['batched_per_s'] / r['single_per_s']:6.1f} {r['inclusion_ms']:8.2f} "
              f"{r['naive_inclusion_ms']:9.1f} {r['naive_inclusion_ms'] / r['inclusion_ms']:6.0f} "
              f"{r['consistency_ms']:8.2f} {r['naive_consistency_ms']:9.1f} "
              f"{r['naive_consistency_ms'] / r['consistency_ms']:6.0f} {r['verify_s']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
