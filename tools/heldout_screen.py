"""The full screen (rules, detectors, classifier, shipped policy) on the held-out 20% of the training data.

``tools.train_moderation`` reports the classifier alone; this reports what a request sees: per category,
the share of held-out unsafe prompts flagged (review or block) under their own category and under any
category, and the share of held-out prompt-style benign prompts flagged, short and long (several chunks)
apart. The split is the training run's (same seed), so no dev set is read.

    python -m tools.heldout_screen --data /work/shared/data/moderation/train [--limit 4000] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from tools.train_moderation import PROMPT_STYLE_SOURCES, collect
from veriframe import safety
from veriframe.safety.chunking import pieces_to_score


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.heldout_screen", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="training data directory")
    ap.add_argument("--seed", type=int, default=20261124, help="the training run's seed (its split)")
    ap.add_argument("--limit", type=int, default=None, help="screen a random sample of this many rows")
    ap.add_argument("--rules-only", action="store_true", help="no classifier")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    examples, _ = collect(args.data, None, args.seed, 0.2)
    held = [e for e in examples if e.split == "heldout"]
    if args.limit and len(held) > args.limit:
        held = random.Random(1).sample(held, args.limit)
    policy = safety.default_policy()
    clf = None if args.rules_only else safety.load_default_classifier()
    decisions = []
    for i in range(0, len(held), 32):
        decisions += safety.screen_many([e.text for e in held[i : i + 32]], policy, clf)
    pos, own, anyc = Counter(), Counter(), Counter()
    ben, ben_flag, by_source, by_source_flag = Counter(), Counter(), Counter(), Counter()
    for e, d in zip(held, decisions, strict=True):
        flagged = d.decision != "allow"
        if e.labels:
            for c in e.labels:
                pos[c] += 1
                own[c] += flagged and c in d.categories
                anyc[c] += flagged
        elif e.source in PROMPT_STYLE_SOURCES:
            kind = "long" if len(pieces_to_score(e.text)) > 1 else "short"
            ben[kind] += 1
            ben_flag[kind] += flagged
            by_source[e.source] += 1
            by_source_flag[e.source] += flagged
    report = {
        "rows": len(held),
        "classifier": clf.name if clf is not None else "none (rules only)",
        "recall": {
            c: {"n": pos[c], "own_category": round(own[c] / pos[c], 4), "any": round(anyc[c] / pos[c], 4)}
            for c in sorted(pos)
        },
        "benign_prompt_style_fpr": {k: {"n": ben[k], "fpr": round(ben_flag[k] / ben[k], 4)} for k in ben},
        "benign_fpr_by_source": {
            src: {"n": n, "fpr": round(by_source_flag[src] / n, 4)} for src, n in sorted(by_source.items())
        },
    }
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
