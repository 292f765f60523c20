"""Prompt-screening latency and throughput: the two MiniLM encoders side by side, and v2 vs v1.

    .venv/bin/python bench/bench_moderation.py [--threads 1] [--n-short 200] [--n-long 60] [--clients 16]
                                               [--source train|dev|builtin] [--baseline-model NPZ]

Prompts (``--source``): ``train`` (default) the first N PartiPrompts of 5+ words from the *training*
data as short prompts and, as long prompts, the next ones joined two to a sentence, five sentences to a
prompt (about 90 words in 5 chunks, like a lengthened video prompt); ``dev`` the VBench short and
GPT-lengthened lists from the dev data (what CogVideoX users send; the dev sets are the lead's to
read); ``builtin`` a small built-in set.

Encoders, side by side in the same run, each prompt timed with both in alternating order (so the
shared machine's load hits both alike), all through ``veriframe.safety.screen`` and the v2 ensemble:
- ``int8-batch``: the Hugging Face module over padded batches (the encoder before 2026-12-02);
- ``int8-per-text``: ``veriframe.safety.encoder`` (the default): each text's own activation scales.
Per encoder: single-prompt latency (median, p95) for short and long prompts, and ``screen_many`` over
batches of 32 (ms per prompt, amortised) for short, long and the mix; then the ratios new / old.

With ``--baseline-model`` (e.g. ``git show <commit>:safety/models/screen_v2.npz > /tmp/old.npz``), that
model file and the shipped one side by side the same way, on the default encoder.

Then v1 vs v2 and rules only (the default encoder), and concurrency: ``--clients`` threads screening
at once, each call behind one process-wide lock (what the service did) vs through
``veriframe.safety.batching.BatchedScreener`` (micro-batches).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

DEV = Path("/work/shared/data/moderation/dev")
TRAIN = Path("/work/shared/data/moderation/train")
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


def load_prompts(n_short: int, n_long: int, source: str = "train") -> tuple[list[str], list[str], str]:
    short_path, long_path = DEV / "vbench_all_dimension.txt", DEV / "vbench_all_dimension_longer.txt"
    if source == "dev" and short_path.exists() and long_path.exists():
        short = [t.strip() for t in short_path.read_text().split("\n") if t.strip()][:n_short]
        long = [t.strip() for t in long_path.read_text().split("\n") if t.strip()][:n_long]
        return short, long, "VBench all_dimension (short) and all_dimension_longer (long), first N lines"
    parti = TRAIN / "partiprompts" / "PartiPrompts.tsv"
    if source == "train" and parti.exists():
        lines = parti.read_text(encoding="utf-8").split("\n")[1:]
        rows = [ln.split("\t")[0].strip() for ln in lines if len(ln.split("\t")[0].split()) >= 5]
        short = rows[:n_short]
        rest = [r.rstrip(".") for r in rows[n_short:]]
        # Two prompts per sentence, five sentences: ~90 words in 5 chunks, like a lengthened prompt.
        sentences = [f"{a}, and {b}." for a, b in zip(rest[0::2], rest[1::2], strict=False)]
        long = [" ".join(sentences[5 * i : 5 * i + 5]) for i in range(n_long)]
        return (
            short,
            long,
            "PartiPrompts of 5+ words (training data): first N (short), 10 joined in 5 sentences (long)",
        )
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


def paired_latencies(prompts: list[str], policy, clfs: list) -> list[list[float]]:
    """Single-prompt latencies (ms) of each classifier on each prompt, the order alternating per prompt."""
    from veriframe import safety

    out: list[list[float]] = [[] for _ in clfs]
    for n, p in enumerate(prompts):
        order = range(len(clfs)) if n % 2 == 0 else reversed(range(len(clfs)))
        for i in order:
            t0 = time.perf_counter()
            safety.screen(p, policy, clfs[i])
            out[i].append((time.perf_counter() - t0) * 1000)
    return out


def batched_ms(prompts: list[str], policy, clf, batch: int = 32, rounds: int = 3) -> float:
    """Median over ``rounds`` of the amortised ms per prompt of ``screen_many`` in batches of ``batch``."""
    return statistics.median(1000 / batched_throughput(prompts, policy, clf, batch) for _ in range(rounds))


def encoder_comparison(short: list[str], long: list[str], policy) -> None:
    """The encoders side by side (see the module doc), printed as a table and ratios."""
    from veriframe.safety.ensemble import EnsembleClassifier

    names = ["int8-batch", "int8-per-text"]
    side_by_side(names, [EnsembleClassifier(encoder_mode=n) for n in names], short, long, policy)


def model_comparison(short: list[str], long: list[str], policy, baseline: Path) -> None:
    """A baseline model file (e.g. the previous screen's ``screen_v2.npz``) beside the shipped one, on the
    same encoder: what the heads cost (screen v9's MLP heads against v8's linear ones)."""
    from veriframe.safety.ensemble import EnsembleClassifier

    clfs = [EnsembleClassifier(baseline), EnsembleClassifier()]
    side_by_side([f"baseline {baseline.name}", "shipped"], clfs, short, long, policy)


def side_by_side(names: list[str], clfs: list, short: list[str], long: list[str], policy) -> None:
    """Two classifiers timed prompt by prompt in alternating order; a table and the ratios second / first."""
    for clf in clfs:  # warm-up: first calls allocate
        clf.score_prompts(short[:32] + long[:8])
    q, med = statistics.quantiles, statistics.median
    s_lat, l_lat = paired_latencies(short, policy, clfs), paired_latencies(long, policy, clfs)
    rows = []
    mix = short + long
    for i in range(len(names)):
        b = [batched_ms(x, policy, clfs[i]) for x in (short, long, mix)]
        rows.append([med(s_lat[i]), q(s_lat[i], n=20)[-1], med(l_lat[i]), q(l_lat[i], n=20)[-1], *b])
    print(
        "| classifier | short single median ms | p95 | long single median ms | p95 | "
        "short batched ms/prompt | long batched ms/prompt | mix batched ms/prompt |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in zip(names, rows, strict=True):
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in r) + " |")
    ratios = " | ".join(f"{b / a:.2f}x" for a, b in zip(*rows, strict=True))
    print(f"| ratio {names[1]} / {names[0]} | {ratios} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--n-short", type=int, default=200)
    ap.add_argument("--n-long", type=int, default=60)
    ap.add_argument("--clients", type=int, default=16, help="concurrent screening threads")
    ap.add_argument("--source", choices=["train", "dev", "builtin"], default="train")
    ap.add_argument("--encoders-only", action="store_true", help="only the encoder comparison")
    ap.add_argument(
        "--baseline-model", type=Path, help="also time this screen_v2.npz beside the shipped one"
    )
    args = ap.parse_args()

    import torch

    from veriframe import safety

    torch.set_num_threads(args.threads)
    short, long, source = load_prompts(args.n_short, args.n_long, args.source)
    policy = safety.default_policy()
    print(
        f"# bench_moderation  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"torch {torch.__version__}  threads={args.threads}  {platform.machine()}  "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"prompts: {source}; {len(short)} short, {len(long)} long")
    encoder_comparison(short, long, policy)
    if args.baseline_model:
        model_comparison(short, long, policy, args.baseline_model)
    if not args.encoders_only:
        screens_and_concurrency(short, long, policy, args.clients)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def screens_and_concurrency(short: list[str], long: list[str], policy, clients: int) -> None:
    """v1 vs v2 vs rules only (default encoder), then locked vs micro-batched concurrent screening."""
    from veriframe import safety
    from veriframe.safety.classifier import MiniLMClassifier
    from veriframe.safety.ensemble import EnsembleClassifier

    v2 = EnsembleClassifier()
    v1 = MiniLMClassifier()  # the encoder is shared (loaded once per process)
    configs = {"v1 (MLP head, max over chunks)": v1, "v2 (ensemble, mean of chunks + chunk check)": v2}
    for clf in configs.values():  # warm-up: first calls allocate
        safety.screen(short[0], policy, clf)
        safety.screen(long[0], policy, clf)
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
    locked, note_l = concurrent_throughput(mix, policy, v2, clients, batched=False)
    batched, note_b = concurrent_throughput(mix, policy, v2, clients, batched=True)
    print(
        f"concurrent screening, {clients} clients, v2: one lock {locked:.0f} prompts/s ({note_l}); "
        f"micro-batched {batched:.0f} prompts/s ({note_b}); {batched / locked:.2f}x"
    )


if __name__ == "__main__":
    main()
