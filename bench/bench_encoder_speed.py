"""The per-text int8 encoder against a baseline version of ``safety/encoder.py``, side by side.

    git show e47dc5d:safety/encoder.py > /tmp/encoder_base.py
    nice .venv/bin/python bench/bench_encoder_speed.py --baseline /tmp/encoder_base.py [--threads 1]

Both encoders are built on the same quantised MiniLM and embed the same texts (each long prompt's
sentence chunks, as the screen does; short prompts alone), in alternating order per prompt so that the
shared machine's load hits both alike. Prints the median and p95 ms of each, their ratio, and how many
embeddings differ in any bit (a speed change must not change a decision: it must be 0).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_moderation import load_prompts


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location("encoder_baseline", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", type=Path, required=True, help="a copy of safety/encoder.py to compare")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--n-short", type=int, default=200)
    ap.add_argument("--n-long", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=2, help="passes over the prompts")
    args = ap.parse_args()

    import torch

    from veriframe.safety.chunking import pieces_to_score
    from veriframe.safety.classifier import MiniLMClassifier

    torch.set_num_threads(args.threads)
    short, long, source = load_prompts(args.n_short, args.n_long)
    mini = MiniLMClassifier()  # the default int8-per-text encoder
    encoders = {"baseline": _load_module(args.baseline).PackedInt8Encoder(mini.model), "this": mini._per_text}
    print(
        f"# bench_encoder_speed  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  torch {torch.__version__}  "
        f"threads={args.threads}  load average {os.getloadavg()[0]:.1f}\n# prompts: {source}"
    )
    print(
        "| prompts | n | baseline median ms | p95 | this median ms | p95 | ratio this / baseline "
        "| embeddings differing |"
    )
    print("|---|---|---|---|---|---|---|---|")
    total_differing = 0
    for name, prompts in (("short", short), ("long", long)):
        tok = mini.tokenizer
        ids = [tok(pieces_to_score(p), truncation=True, max_length=128)["input_ids"] for p in prompts]
        for enc in encoders.values():  # warm-up: first calls allocate
            enc(ids[0])
        times: dict[str, list[float]] = {k: [] for k in encoders}
        differing = 0
        for n, row in enumerate(ids * args.rounds):
            out = {}
            for key in list(encoders) if n % 2 == 0 else reversed(list(encoders)):
                t0 = time.perf_counter()
                out[key] = encoders[key](row)
                times[key].append((time.perf_counter() - t0) * 1000)
            differing += int((out["baseline"] != out["this"]).any(axis=1).sum())
        total_differing += differing
        med = {k: statistics.median(v) for k, v in times.items()}
        p95 = {k: statistics.quantiles(v, n=20)[-1] for k, v in times.items()}
        print(
            f"| {name} | {len(ids)} | {med['baseline']:.2f} | {p95['baseline']:.2f} | {med['this']:.2f} | "
            f"{p95['this']:.2f} | {med['this'] / med['baseline']:.2f}x | {differing} |"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if total_differing:
        raise SystemExit("the encoders disagree: a speed change must give the same bits")


if __name__ == "__main__":
    main()
