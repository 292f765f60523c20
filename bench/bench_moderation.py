"""Prompt-screening latency and throughput: the v2 screen vs the v1 screen, side by side.

    .venv/bin/python bench/bench_moderation.py [--threads 2] [--n-short 200] [--n-long 60] [--clients 16]

Prompts: the VBench short and GPT-lengthened prompt lists from the dev data when present (they are
what CogVideoX users send), else a built-in set. Configurations, all through ``veriframe.safety.screen``
with the default policy:
- v1: int8 MiniLM + the v1 MLP head, a long prompt scored per chunk (max), one prompt at a time;
- v2: int8 MiniLM + the v2 ensemble (whole-prompt mean of chunks, chunk check, char n-grams, stack),
  one prompt at a time (the latency a request sees), and ``screen_many`` over 32 prompts (throughput);
- rules only: no classifier (the floor).
Then concurrency: ``--clients`` threads screening at once, each call behind one process-wide lock (what
the service did) vs through ``veriframe.safety.batching.BatchedScreener`` (micro-batches).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

DEV = Path("/work/shared/data/moderation/dev")
FALLBACK_SHORT = [
    "a corgi running on the beach",
    "a red car driving through a snowy forest",
    "timelapse of clouds over mountains",
    "a woman playing violin in the rain",
    "an astronaut riding a horse on mars",
    "a bowl of ramen steaming, close-up",
]
FALLBACK_LONG = [
    "A lighthouse stands on a rocky cliff at dawn, its white tower catching the first pink light of the "
    "day. Waves roll in slowly and break against the rocks below, throwing up fine spray that glitters in "
    "the sun. "
    "A flock of seagulls circles overhead while a small fishing boat with a red hull heads out to sea. "
    "The camera glides forward over the water, rising gently to reveal the coastline stretching into "
    "the haze.",
]


def load_prompts(n_short: int, n_long: int) -> tuple[list[str], list[str], str]:
    short_path, long_path = DEV / "vbench_all_dimension.txt", DEV / "vbench_all_dimension_longer.txt"
    if short_path.exists() and long_path.exists():
        short = [t.strip() for t in short_path.read_text().split("\n") if t.strip()][:n_short]
        long = [t.strip() for t in long_path.read_text().split("\n") if t.strip()][:n_long]
        return short, long, "VBench all_dimension (short) and all_dimension_longer (long), first N lines"
    return ((FALLBACK_SHORT * n_short)[:n_short], (FALLBACK_LONG * n_long)[:n_long], "built-in prompts")


def single_latencies(prompts: list[str], policy, clf, screen=None) -> list[float]:
    from veriframe import safety

    screen = screen or safety.screen
    out = []
    for p in prompts:
        t0 = time.perf_counter()
        screen(p, policy, clf)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def batched_throughput(prompts: list[str], policy, clf, batch: int = 32) -> float:
    from veriframe.safety.screen import screen_many

    t0 = time.perf_counter()
    for i in range(0, len(prompts), batch):
        screen_many(prompts[i : i + batch], policy, clf)
    return len(prompts) / (time.perf_counter() - t0)


def concurrent_throughput(prompts: list[str], policy, clf, clients: int, batched: bool) -> tuple[float, str]:
    """Prompts/s with ``clients`` threads screening ``prompts`` between them, locked or micro-batched."""
    import threading

    from veriframe import safety
    from veriframe.safety.batching import BatchedScreener

    lock = threading.Lock()
    bs = BatchedScreener(clf) if batched else None
    work = list(prompts)

    def client() -> None:
        while True:
            with lock_work:
                if not work:
                    return
                p = work.pop()
            if bs is not None:
                bs.screen(p, policy)
            else:
                with lock:
                    safety.screen(p, policy, clf)

    lock_work = threading.Lock()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = len(prompts) / (time.perf_counter() - t0)
    note = f"{bs.stats['prompts'] / max(bs.stats['batches'], 1):.1f} prompts/batch" if bs else "one at a time"
    if bs is not None:
        bs.close()
    return rate, note


def _row(name: str, short: list[float], long: list[float], thr: float) -> str:
    q, med = statistics.quantiles, statistics.median
    return (
        f"| {name} | {med(short):.1f} | {q(short, n=20)[-1]:.1f} | {med(long):.1f} | "
        f"{q(long, n=20)[-1]:.1f} | {med(short + long):.1f} | {thr:.0f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-short", type=int, default=200)
    ap.add_argument("--n-long", type=int, default=60)
    ap.add_argument("--clients", type=int, default=16, help="concurrent screening threads")
    args = ap.parse_args()

    import torch

    from veriframe import safety
    from veriframe.safety.classifier import MiniLMClassifier
    from veriframe.safety.ensemble import EnsembleClassifier

    torch.set_num_threads(args.threads)
    short, long, source = load_prompts(args.n_short, args.n_long)
    policy = safety.default_policy()
    t0 = time.perf_counter()
    v2 = EnsembleClassifier()
    load_v2 = time.perf_counter() - t0
    v1 = MiniLMClassifier()  # the encoder is shared (loaded once per process)
    configs = {"v1 (MLP head, max over chunks)": v1, "v2 (ensemble, mean of chunks + chunk check)": v2}
    for clf in configs.values():  # warm-up: first calls allocate
        safety.screen(short[0], policy, clf)
        safety.screen(long[0], policy, clf)

    print(
        f"# bench_moderation  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"torch {torch.__version__}  threads={args.threads}  {platform.machine()}"
    )
    print(f"prompts: {source}; {len(short)} short, {len(long)} long; v2 load {load_v2:.1f}s")
    mix = short + long
    print(
        "| config | short median ms | short p95 ms | long median ms | long p95 ms | all median ms | "
        "batched prompts/s (batch 32) |"
    )
    print("|---|---|---|---|---|---|---|")
    medians = {}
    for name, clf in [*configs.items(), ("rules only", None)]:
        s_lat, l_lat = single_latencies(short, policy, clf), single_latencies(long, policy, clf)
        medians[name] = statistics.median(s_lat + l_lat)
        print(_row(name, s_lat, l_lat, batched_throughput(mix, policy, clf)))
    names = list(configs)
    print(f"v2 vs v1: all-prompt median {medians[names[1]] / medians[names[0]]:.2f}x the time")
    locked, note_l = concurrent_throughput(mix, policy, v2, args.clients, batched=False)
    batched, note_b = concurrent_throughput(mix, policy, v2, args.clients, batched=True)
    print(
        f"concurrent screening, {args.clients} clients, v2: one lock {locked:.0f} prompts/s ({note_l}); "
        f"micro-batched {batched:.0f} prompts/s ({note_b}); {batched / locked:.2f}x"
    )


if __name__ == "__main__":
    main()
