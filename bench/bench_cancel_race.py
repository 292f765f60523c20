"""Cancel race benchmark: >= 1,000 concurrent submits and cancels, the contract checked for every job.

    .venv/bin/python bench/bench_cancel_race.py [--jobs 1000] [--clients 64] [--databases sqlite,postgres]

A real `veriframe serve` subprocess (one worker, the tiny model) per database; `--clients` threads
each submit jobs and cancel every one at a drawn moment (at once, as soon as it runs, or up to 1.5 s
later, or after up to 3 s whatever its state), then every job is waited for. The contract: Cancel
OK => CANCELLED; TOO_LATE => SUCCEEDED; anything else is a violation (must be 0). Also printed:
the server's RSS before and after (bench/bench_rss.py looks at what holds it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.served import served, workspace
from tests.fixtures.cancel_race import run_race, summary

PARAMS = {"width": 256, "height": 256, "num_frames": 9, "steps": 2, "fps": 8}


def run(work: Path, kind: str, args: argparse.Namespace, model_dir: Path, keys_dir: Path) -> None:
    label = kind
    with served(work, kind, model_dir=model_dir, keys_dir=keys_dir, workers=1,
                tenant_queue_cap=100_000, lease_seconds=60) as server:
        key = server.key("client")
        rss_start = server.rss_mb()
        start = time.perf_counter()
        result = summary(run_race(server.address, key, jobs=args.jobs, clients=args.clients,
                                  params=PARAMS, seed=args.seed, patience=args.patience))
        wall = time.perf_counter() - start
        rss_end = server.rss_mb()
    print(f"== {label}: {result['jobs']} jobs, {args.clients} concurrent clients, {wall:.0f} s")
    print("  cancel answers: " + ", ".join(f"{k} {n}" for k, n in sorted(result["cancel answers"].items())))
    print("  final states:   " + ", ".join(f"{k} {n}" for k, n in sorted(result["final states"].items())))
    print(f"  contract violations: {len(result['violations'])}")
    for line in result["violations"][:10]:
        print(f"    {line}")
    print(f"  server RSS: start {rss_start:.0f} MB, end {rss_end:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patience", type=float, default=0.1,
                        help="share of cancels that first wait for the job to run")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    with workspace("veriframe-bench-cancel-") as (work, model_dir, keys_dir):
        for kind in args.databases.split(","):
            run(work, kind.strip(), args, model_dir, keys_dir)


if __name__ == "__main__":
    main()
