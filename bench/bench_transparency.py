"""Transparency benchmark: proof, client-check and audit costs as the log grows (10k, 100k, 1M events).

Side by side in the same run:
- appends: one event per transaction with the head signed in the same transaction (what the
  service does since every event must be covered by a checkpoint) vs without a signing key (baseline);
- the full audit (`audit verify`: every event, node and checkpoint) vs the incremental audit from a
  trusted checkpoint 1,000 events back (`audit verify --trusted-checkpoint FILE --incremental`);
- per size: inclusion and consistency proofs from the database, and what a client does with them
  (re-hash the path, check the C2SP checkpoint's ECDSA signature).

The log is built with `append_many` in batches of 10,000 (one signed head per batch), so 1M events
stay feasible on a small machine. The full audit holds every event in memory: above `--full-max`
it is not run, and its time is extrapolated linearly from the largest size measured (it reads and
hashes each event once; the measured sizes show the ratio).

    .venv/bin/python bench/bench_transparency.py [--sizes 10000,100000,1000000] [--backends sqlite]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ledger import PAYLOAD, scratch_database, timed

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.checkpoint import log_verifier, open_checkpoint
from veriframe.service.db import make_engine, session_factory, upgrade
from veriframe.service.ledger import EventInput, Ledger

BATCH = 10_000


def grow(ledger: Ledger, to: int) -> float:
    """Append up to `to` events in batches; returns events per second."""
    start, size = time.perf_counter(), ledger.head().tree_size
    first = size
    while size < to:
        n = min(BATCH, to - size)
        ledger.append_many(
            [EventInput("generated", PAYLOAD, "worker-1", "t1", f"job-{size + i}") for i in range(n)]
        )
        size += n
    return (size - first) / max(time.perf_counter() - start, 1e-9)


def appends(url: str, key: ec.EllipticCurvePrivateKey, n: int = 300) -> tuple[float, float]:
    """(appends/s signed, appends/s unsigned), one event per transaction."""
    sessions = session_factory(url)
    signed, unsigned = Ledger(sessions, key), Ledger(sessions)
    t_signed = timed(lambda: [signed.append("generated", PAYLOAD, actor="w", tenant="t") for _ in range(n)])
    t_plain = timed(lambda: [unsigned.append("generated", PAYLOAD, actor="w", tenant="t") for _ in range(n)])
    signed.checkpoint()  # cover the unsigned ones again
    return n / t_signed, n / t_plain


def measure(ledger: Ledger, key: ec.EllipticCurvePrivateKey, size: int, full_max: int) -> dict[str, float]:
    rng = random.Random(size)
    r: dict[str, float] = {}
    seqs = [rng.randrange(size) for _ in range(50)]
    r["inclusion_ms"] = statistics.median(timed(lambda s=s: ledger.inclusion_proof(s)) for s in seqs) * 1e3
    firsts = [rng.randrange(1, size) for _ in range(50)]
    r["consistency_ms"] = (
        statistics.median(timed(lambda f=f: ledger.consistency_proof(f)) for f in firsts) * 1e3
    )
    note, proof = ledger.latest_note(), ledger.inclusion_proof(seqs[0])
    verifier = log_verifier(key.public_key())
    leaf, path, root = (
        bytes.fromhex(proof.leaf_hash),
        [bytes.fromhex(h) for h in proof.path],
        bytes.fromhex(proof.root_hash),
    )

    def client_check() -> None:
        assert merkle.verify_inclusion(proof.seq, proof.tree_size, leaf, path, root)
        assert open_checkpoint(note, verifier).checkpoint.root_hash == root

    r["client_check_ms"] = statistics.median(timed(client_check) for _ in range(50)) * 1e3
    trusted = ledger.checkpoint()  # a trusted checkpoint 1,000 events back
    body = open_checkpoint(trusted.note, verifier).checkpoint
    ledger.append_many([EventInput("generated", PAYLOAD, "worker-1", "t1", "job-inc") for _ in range(1000)])
    report = None

    def incremental() -> None:
        nonlocal report
        report = ledger.verify(since=body)

    r["incremental_s"] = timed(incremental)
    assert report is not None and report.ok and report.events == 1000, [str(f) for f in report.findings]
    if size <= full_max:
        full = None

        def run_full() -> None:
            nonlocal full
            full = ledger.verify(trusted=[body])

        r["full_s"] = timed(run_full)
        assert full is not None and full.ok, [str(f) for f in full.findings]
    return r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--full-max", type=int, default=100_000, help="largest log given a full audit")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    key = ec.generate_private_key(ec.SECP256R1())
    for backend in args.backends.split(","):
        with scratch_database(backend) as url:
            upgrade(url)
            engine = make_engine(url)
            ledger = Ledger(session_factory(engine), key)
            signed, plain = appends(url, key)
            print(
                f"{backend}: one append per transaction: {signed:.0f}/s with the head signed in the same "
                f"transaction, {plain:.0f}/s unsigned (ratio {plain / signed:.2f})",
                flush=True,
            )
            print(
                f"{'events':>9} {'build/s':>8} {'incl ms':>8} {'cons ms':>8} {'client ms':>9} "
                f"{'incr s':>7} {'full s':>7} {'ratio':>6}"
            )
            last_full: tuple[int, float] | None = None
            for size in sizes:
                rate = grow(ledger, size)
                r = measure(ledger, key, ledger.head().tree_size, args.full_max)
                if "full_s" in r:
                    last_full, full, mark = (size, r["full_s"]), r["full_s"], ""
                else:
                    assert last_full is not None
                    full, mark = last_full[1] * size / last_full[0], "*"
                print(
                    f"{size:9d} {rate:8.0f} {r['inclusion_ms']:8.2f} {r['consistency_ms']:8.2f} "
                    f"{r['client_check_ms']:9.3f} {r['incremental_s']:7.3f} {full:6.1f}{mark or ' '} "
                    f"{full / r['incremental_s']:6.0f}",
                    flush=True,
                )
            engine.dispose()
    print("* extrapolated linearly from the largest fully audited size")


if __name__ == "__main__":
    main()
