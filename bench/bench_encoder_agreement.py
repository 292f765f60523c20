"""Does the per-text int8 encoder agree with the batched one the heads were trained on? Training texts only.

    .venv/bin/python bench/bench_encoder_agreement.py [--n 3000] [--n-long 400] [--seed 0]

Texts: a seeded sample of the *training* sets (``/work/shared/data/moderation/train``, through the loaders
of ``tools/train_moderation.py``; never a dev set), plus long prompts made by joining 4-8 of them (so the
chunked path is covered). Everything through ``safety.screen`` / ``screen_many`` with the default policy:

- ``int8-batch`` (the encoder before 2026-12-02) alone: each prompt screened by itself;
- ``int8-batch`` with random mates: prompts shuffled into ``screen_many`` batches of 32, twice (two
  shuffles); the difference from "alone" is the old encoder's own batch-mate variation;
- ``int8-per-text`` (the new default) in random batches of 32.

Prints decision flips (allow/review/block) and score changes (every category score and "any") between
each pair, and the cosine between the two encoders' chunk embeddings as training computed them
(``MiniLMClassifier.embed`` over all pieces, sorted batches of 32).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TRAIN = Path("/work/shared/data/moderation/train")


def training_texts(n: int, n_long: int, seed: int) -> list[str]:
    from tools import train_moderation as tm

    rng = random.Random(seed)
    pool: list[str] = []
    loaders = (
        tm.load_ailuminate,
        tm.load_xstest,
        tm.load_hatecheck,
        tm.load_sst,
        tm.load_harmbench,
        tm.load_strongreject,
        tm.load_toxigen,
        tm.load_parti,
        tm.load_fetv,
        tm.load_diffusiondb,
        tm.load_esd,
    )
    for loader in loaders:
        pool.extend(e.text for e in loader(TRAIN))
    pool.extend(e.text for e in tm.load_davidson(TRAIN, rng, max_offensive=1200, max_neither=2000))
    pool = sorted({t.strip() for t in pool if t.strip() and len(t) < 2000})
    rng.shuffle(pool)
    short = pool[:n]
    longs = [". ".join(rng.sample(pool, rng.randint(4, 8))) for _ in range(n_long)]
    return short + longs


def in_random_batches(prompts: list[str], policy, clf, seed: int, size: int = 32) -> list:
    from veriframe.safety.screen import screen_many

    order = list(range(len(prompts)))
    random.Random(seed).shuffle(order)
    out: list = [None] * len(prompts)
    for i in range(0, len(order), size):
        idx = order[i : i + size]
        for j, d in zip(idx, screen_many([prompts[k] for k in idx], policy, clf), strict=True):
            out[j] = d
    return out


def compare(name: str, a: list, b: list) -> None:
    flips = sum(x.decision != y.decision for x, y in zip(a, b, strict=True))
    cats = sum(set(x.categories) != set(y.categories) for x, y in zip(a, b, strict=True))
    deltas = np.array(
        [
            max((abs(x.scores.get(k, 0.0) - y.scores.get(k, 0.0)) for k in x.scores), default=0.0)
            for x, y in zip(a, b, strict=True)
        ]
    )
    print(
        f"| {name} | {flips} | {cats} | {deltas.max():.4f} | {np.percentile(deltas, 99):.4f} | "
        f"{deltas.mean():.5f} | {(deltas > 0).sum()} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--n-long", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from veriframe import safety
    from veriframe.safety.chunking import pieces_to_score
    from veriframe.safety.ensemble import EnsembleClassifier

    torch.set_num_threads(args.threads)
    prompts = training_texts(args.n, args.n_long, args.seed)
    policy = safety.default_policy()
    old, new = EnsembleClassifier(encoder_mode="int8-batch"), EnsembleClassifier(encoder_mode="int8-per-text")
    print(
        f"# bench_encoder_agreement {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  "
        f"{len(prompts)} training texts ({args.n_long} joined long ones), seed {args.seed}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    old_alone = [safety.screen(p, policy, old) for p in prompts]
    old_mates = in_random_batches(prompts, policy, old, args.seed + 1)
    old_mates2 = in_random_batches(prompts, policy, old, args.seed + 2)
    new_mates = in_random_batches(prompts, policy, new, args.seed + 1)
    new_mates2 = in_random_batches(prompts, policy, new, args.seed + 2)
    n_review = sum(d.decision != "allow" for d in old_alone)
    print(f"old encoder alone: {n_review} of {len(prompts)} prompts not allowed")
    print(
        "| pair | decision flips | category-set changes | max score change | p99 | mean | prompts changed |"
    )
    print("|---|---|---|---|---|---|---|")
    compare("old alone vs old in random batches of 32 (batch-mate variation)", old_alone, old_mates)
    compare("old, two random batchings", old_mates, old_mates2)
    compare("new in random batches vs old alone", new_mates, old_alone)
    compare("new in random batches vs old in the same batches", new_mates, old_mates)
    compare("new, two random batchings", new_mates, new_mates2)
    # Embeddings as training computed them: all pieces through embed(), sorted batches of 32.
    pieces = [p.lower() for t in prompts for p in pieces_to_score(t)][:4000]
    e_old, e_new = old.encoder.embed(pieces), new.encoder.embed(pieces)
    cos = (e_old * e_new).sum(1)
    print(
        f"chunk embeddings, training-style batches ({len(pieces)} pieces): cosine new vs old min "
        f"{cos.min():.5f}, 0.1th percentile {np.percentile(cos, 0.1):.5f}, mean {cos.mean():.6f}; "
        f"identical rows {(np.abs(e_old - e_new).max(1) == 0).sum()}"
    )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
