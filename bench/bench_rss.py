"""Server RSS under load, and what holds it: glibc arenas and untrimmed free memory, side by side.

    .venv/bin/python bench/bench_rss.py [--jobs 12] [--clients 4] [--width 720 --height 480]

The same load against four `veriframe serve` subprocesses (SQLite, one worker, the tiny model):
`--jobs` generations submitted by `--clients` concurrent clients, each video downloaded and sent
back through Verify. RSS is read before the load, at its peak (sampled every 0.2 s) and after.
  baseline       glibc defaults (8 arenas per core), no trim: the behaviour before this change
  arenas=2       MALLOC_ARENA_MAX=2 in the environment only
  trim only      malloc_trim(0) after each job, glibc's arena count
  shipped        the server's defaults: mallopt(M_ARENA_MAX, 2) at start + malloc_trim after each job
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.served import served, workspace

PROMPT = "a lighthouse on a cliff at dusk, waves below, cinematic"
CONFIGS = {
    "baseline": ({}, {"malloc_arena_max": 0, "malloc_trim_after_job": "false"}),
    "arenas=2": ({"MALLOC_ARENA_MAX": "2"}, {"malloc_arena_max": 0, "malloc_trim_after_job": "false"}),
    "trim only": ({}, {"malloc_arena_max": 0, "malloc_trim_after_job": "true"}),
    "shipped": ({}, {}),
}


def load(address: str, key: str, jobs: int, clients: int, params: dict[str, int], work: Path) -> None:
    from veriframe.service.client import Client

    def one(index: int) -> None:
        with Client(address, key, timeout=600) as client:
            output = work / f"v{index}.mp4"
            result = client.generate(f"{PROMPT} #{index}", output=output, verify=False, **params)
            client.verify(result.path)
            result.path.unlink()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, range(jobs)))


def measure(
    work: Path, name: str, args: argparse.Namespace, model_dir: Path, keys_dir: Path
) -> dict[str, float]:
    env, settings = CONFIGS[name]
    params = {"width": args.width, "height": args.height, "num_frames": 9, "steps": 2, "fps": 8}
    with served(work, "sqlite", model_dir=model_dir, keys_dir=keys_dir, env=env, workers=1,
                tenant_queue_cap=10_000, **settings) as server:
        key = server.key("client")
        time.sleep(3)  # the worker loads its model in the background
        start = server.rss_mb()
        peak = [start]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], server.rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        load(server.address, key, args.jobs, args.clients, params, work)
        wall = time.perf_counter() - began
        done.set()
        sampler.join()
        time.sleep(2)
        end = server.rss_mb()
    return {"start": start, "peak": peak[0], "end": end, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    args = parser.parse_args()
    with workspace("veriframe-bench-rss-") as (work, model_dir, keys_dir):
        print(f"{args.jobs} jobs ({args.width}x{args.height}, 9 frames, 2 steps) + Verify of each, "
              f"{args.clients} clients; server RSS in MB")
        print(f"  {'config':<10} {'start':>7} {'peak':>7} {'end':>7} {'end-start':>9} {'wall s':>7}")
        base = None
        for name in args.configs.split(","):
            r = measure(work, name, args, model_dir, keys_dir)
            growth = r["end"] - r["start"]
            base = growth if base is None else base
            ratio = f"  growth x{growth / base:.2f} of baseline" if base else ""
            print(f"  {name:<10} {r['start']:7.0f} {r['peak']:7.0f} {r['end']:7.0f} {growth:9.0f} "
                  f"{r['wall']:7.0f}{ratio}", flush=True)


if __name__ == "__main__":
    main()
