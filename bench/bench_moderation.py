"""Prompt-screening latency and throughput: the tuned default vs the untuned classifier, side by side.

    .venv/bin/python bench/bench_moderation.py [--threads 2] [--n-short 200] [--n-long 60]

Prompts: the VBench short and GPT-lengthened prompt lists from the dev data when present (they are
what CogVideoX users send), else a built-in set. Configurations, all through ``veriframe.safety.screen``
with the
default policy and sentence-chunk scoring:
- baseline: fp32 MiniLM, one prompt at a time (the untuned classifier);
- previous int8: int8 MiniLM scoring the whole prompt *and* each sentence chunk of a long prompt (the
  screen up to policy v1), one prompt at a time;
- tuned: int8 dynamic quantisation, a long prompt scored per chunk only (no whole-prompt pass), one
  prompt at a time (the latency a request sees);
- tuned, batched: ``screen_many`` over 32 prompts at a time (throughput);
- rules only: no classifier (the floor).
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


def screen_whole_and_chunks(prompt: str, policy, clf):
    """The previous screen: the whole prompt plus each sentence chunk, max per category (for comparison)."""
    from veriframe.safety.chunking import split_chunks
    from veriframe.safety.screen import _decide, _prepare

    norm = _prepare(prompt, policy)
    scores: dict[str, float] = {}
    for piece in clf.score([norm.text, *split_chunks(norm.text)]):
        for cat, s in piece.items():
            scores[cat] = max(scores.get(cat, 0.0), s)
    return _decide(norm, policy, scores, clf.name)


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-short", type=int, default=200)
    ap.add_argument("--n-long", type=int, default=60)
    args = ap.parse_args()

    import torch

    from veriframe import safety
    from veriframe.safety.classifier import MiniLMClassifier

    torch.set_num_threads(args.threads)
    short, long, source = load_prompts(args.n_short, args.n_long)
    policy = safety.default_policy()
    configs = {}
    t0 = time.perf_counter()
    configs["baseline fp32"] = MiniLMClassifier(quantize=False)
    load_fp32 = time.perf_counter() - t0
    t0 = time.perf_counter()
    configs["tuned int8"] = MiniLMClassifier(quantize=True)
    load_int8 = time.perf_counter() - t0
    for clf in configs.values():  # warm-up: first calls allocate
        safety.screen(short[0], policy, clf)
        safety.screen(long[0], policy, clf)

    print(
        f"# bench_moderation  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"torch {torch.__version__}  threads={args.threads}  {platform.machine()}"
    )
    print(f"prompts: {source}; {len(short)} short, {len(long)} long")
    print(f"model load: fp32 {load_fp32:.1f}s, int8 {load_int8:.1f}s (once per process)")
    mix = short + long
    rows = []
    runs = [
        ("baseline fp32", configs["baseline fp32"], None),
        ("previous int8 (whole + chunks)", configs["tuned int8"], screen_whole_and_chunks),
        ("tuned int8 (chunks only)", configs["tuned int8"], None),
        ("rules only", None, None),
    ]
    for name, clf, screen in runs:
        s_lat = single_latencies(short, policy, clf, screen)
        l_lat = single_latencies(long, policy, clf, screen)
        # Batched throughput goes through screen_many (chunks only); not measured for the previous path.
        thr = batched_throughput(mix, policy, clf) if screen is None else float("nan")
        rows.append(
            (
                name,
                statistics.median(s_lat),
                statistics.quantiles(s_lat, n=20)[-1],
                statistics.median(l_lat),
                statistics.quantiles(l_lat, n=20)[-1],
                statistics.median(s_lat + l_lat),
                thr,
            )
        )
    print(
        "| config | short median ms | short p95 ms | long median ms | long p95 ms | all median ms | "
        "batched prompts/s (batch 32) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.0f} |")
    base, prev, tuned = rows[0], rows[1], rows[2]
    print(
        f"tuned vs baseline fp32: single median {base[5] / tuned[5]:.2f}x faster, "
        f"batched throughput {tuned[6] / base[6]:.2f}x"
    )
    print(
        f"tuned vs previous int8: long-prompt median {prev[3] / tuned[3]:.2f}x faster "
        f"({prev[3]:.1f} -> {tuned[3]:.1f} ms), all-prompt median {prev[5] / tuned[5]:.2f}x"
    )


if __name__ == "__main__":
    main()
