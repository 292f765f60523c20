"""Evaluate the screen on labelled prompts: AUPRC, F1 and recall per category, false-positive rate on benign.

Two ways in:

- ``python -m veriframe.safety.evaluate FILE --label-column COL [--text-column prompt] [--label-map JSON]``
  (also ``veriframe moderate FILE --label-column COL``): a CSV/TSV/JSONL file whose label column holds
  comma-separated categories (empty, ``benign`` or ``safe`` = benign); ``--benign``/``--unsafe CAT`` label a
  whole file (one prompt per line) instead.
- ``python -m veriframe.safety.evaluate --dev DIR``: the project's development sets (VBench short and
long, COCO,
  I2P), with I2P's image labels mapped to our categories. None of these is used for training or tuning.

The ranking score for AUPRC is, per category, the classifier score divided by the policy's review
threshold, plus 2 when the full screen (rules included) flags that category, so rule hits rank first.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriframe.safety.categories import CATEGORIES
from veriframe.safety.classifier import Classifier
from veriframe.safety.policy import Policy
from veriframe.safety.screen import Decision, PromptError, screen, screen_many

csv.field_size_limit(sys.maxsize)
BENIGN_LABELS = {"", "benign", "safe", "none", "0", "false"}
# I2P labels describe the *images* Stable Diffusion made, mapped here to the closest category.
I2P_LABEL_MAP = {
    "sexual": "sexual",
    "shocking": "disturbing",
    "self-harm": "self-harm",
    "violence": "violence",
    "illegal activity": "illegal/weapons",
    "harassment": "harassment",
    "hate": "hate",
}


def i2p_half(prompt: str) -> str:
    """Which half of I2P a prompt is in: ``"train"`` (training may use it) or ``"eval"`` (never trained on).

    A hash of the prompt's words, so the split does not depend on row order or the file's other columns.
    """
    key = " ".join("".join(ch if ch.isalnum() else " " for ch in prompt.lower()).split())
    return "train" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "eval"


@dataclass
class Sample:
    text: str
    labels: frozenset[str]
    group: str
    meta: dict | None = None


def parse_labels(value: str, label_map: dict[str, str | None] | None) -> frozenset[str]:
    out = set()
    for raw in str(value).split(","):
        label = raw.strip()
        if label.lower() in BENIGN_LABELS:
            continue
        mapped = label_map.get(label, label) if label_map else label
        if mapped is None or mapped == "":
            continue
        if mapped not in CATEGORIES:
            raise ValueError(
                f"label {label!r} is not a category; pass --label-map to map it "
                f"(categories: {', '.join(CATEGORIES)})"
            )
        out.add(mapped)
    return frozenset(out)


def read_labelled(
    path: Path,
    *,
    text_column: str = "prompt",
    label_column: str | None = None,
    label_map: dict[str, str | None] | None = None,
    fixed: frozenset[str] | None = None,
    group: str | None = None,
) -> list[Sample]:
    """Samples from a .txt (one prompt a line; needs ``fixed``), .csv/.tsv or .jsonl file."""
    group = group or path.name
    suffix = path.suffix.lower()
    if suffix == ".txt":
        if fixed is None:
            raise ValueError(f"{path}: a .txt file has no label column: say --benign or --unsafe CATEGORY")
        return [
            Sample(t.strip(), fixed, group) for t in path.read_text(encoding="utf-8").split("\n") if t.strip()
        ]
    if suffix == ".jsonl":
        rows: Iterable[dict] = (
            json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        )
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
    samples = []
    for row in rows:
        labels = fixed if fixed is not None else parse_labels(row.get(label_column or "", ""), label_map)
        samples.append(Sample(str(row[text_column]).strip(), labels, group, meta=row))
    return samples


def dev_samples(dev: Path, *, coco_limit: int | None = None, i2p_all: bool = False) -> list[Sample]:
    """The development sets (dev/README.md), grouped for reporting: only I2P's evaluation half
    (:func:`i2p_half`; the other half may be trained on) unless ``i2p_all``."""
    benign: frozenset[str] = frozenset()
    samples = read_labelled(dev / "vbench_all_dimension.txt", fixed=benign, group="vbench_short (benign)")
    samples += read_labelled(
        dev / "vbench_all_dimension_longer.txt", fixed=benign, group="vbench_long (benign)"
    )
    coco = read_labelled(dev / "coco_captions_10k.csv", fixed=benign, group="coco (benign)")
    samples += coco[:coco_limit] if coco_limit else coco
    i2p = read_labelled(
        dev / "i2p_unsafe_prompts.csv",
        label_column="categories",
        label_map=I2P_LABEL_MAP,
        group="i2p (unsafe)" if i2p_all else "i2p eval half (unsafe)",
    )
    return samples + [s for s in i2p if i2p_all or i2p_half(s.text) == "eval"]


def _decide_all(
    samples: Sequence[Sample], policy: Policy, classifier: Classifier | None, batch: int = 64
) -> list[Decision | None]:
    out: list[Decision | None] = []
    for start in range(0, len(samples), batch):
        chunk = [s.text for s in samples[start : start + batch]]
        try:
            out.extend(screen_many(chunk, policy, classifier))
        except PromptError:  # one bad prompt: decide the batch one by one, bad ones recorded as None
            for text in chunk:
                try:
                    out.append(screen(text, policy, classifier))
                except PromptError:
                    out.append(None)
    return out


def _any_rank(d: Decision, policy: Policy, per_category: np.ndarray) -> float:
    """Ranking score for "any category": the best category ratio or the "any unsafe" ratio, +2 if flagged."""
    r = float(per_category.max()) if len(per_category) else 0.0
    t = policy.any_unsafe
    if "any" in d.scores and t is not None and t.review:
        r = max(r, d.scores["any"] / t.review)
    return r + (2.0 if d.decision != "allow" else 0.0)


def _ratios(d: Decision, policy: Policy) -> np.ndarray:
    """Each category's classifier score over its review threshold."""
    r = np.zeros(len(CATEGORIES))
    for i, cat in enumerate(CATEGORIES):
        t = policy.thresholds.get(cat)
        if cat in d.scores and t is not None and t.review:
            r[i] = d.scores[cat] / t.review
    return r


def _rank_scores(d: Decision, policy: Policy) -> np.ndarray:
    return _ratios(d, policy) + 2.0 * np.array([c in d.categories for c in CATEGORIES])


def evaluate(
    samples: Sequence[Sample],
    policy: Policy,
    classifier: Classifier | None,
    decisions: Sequence[Decision | None] | None = None,
) -> dict:
    """Metrics over ``samples`` (see the module docstring); ``decisions`` reuses earlier screening."""
    from sklearn.metrics import average_precision_score, f1_score

    t0 = time.perf_counter()
    if decisions is None:
        decisions = _decide_all(samples, policy, classifier)
    elapsed = time.perf_counter() - t0
    ok = [(s, d) for s, d in zip(samples, decisions, strict=True) if d is not None]
    report: dict = {
        "n": len(samples),
        "unscreenable": len(samples) - len(ok),
        "seconds": round(elapsed, 1),
        "policy_version": policy.version,
        "classifier": classifier.name if classifier else "rules only",
        "groups": {},
        "categories": {},
    }
    for group in dict.fromkeys(s.group for s, _ in ok):
        rows = [(s, d) for s, d in ok if s.group == group]
        unsafe = [(s, d) for s, d in rows if s.labels]
        benign = [(s, d) for s, d in rows if not s.labels]
        g: dict = {"n": len(rows), "decisions": dict(Counter(d.decision for _, d in rows))}
        if benign:
            g["fpr_flagged"] = round(sum(d.decision != "allow" for _, d in benign) / len(benign), 4)
            g["fpr_blocked"] = round(sum(d.decision == "block" for _, d in benign) / len(benign), 4)
        if unsafe:
            g["recall_flagged"] = round(sum(d.decision != "allow" for _, d in unsafe) / len(unsafe), 4)
            g["recall_blocked"] = round(sum(d.decision == "block" for _, d in unsafe) / len(unsafe), 4)
            per = {}
            for cat in CATEGORIES:
                pos = [d for s, d in unsafe if cat in s.labels]
                if pos:
                    per[cat] = {
                        "n": len(pos),
                        "recall_flagged": round(sum(d.decision != "allow" for d in pos) / len(pos), 4),
                        "recall_category": round(sum(cat in d.categories for d in pos) / len(pos), 4),
                    }
            g["per_category"] = per
        report["groups"][group] = g

    Y = np.array([[c in s.labels for c in CATEGORIES] for s, _ in ok], dtype=bool)
    R = np.array([_rank_scores(d, policy) for _, d in ok])
    P = np.array([[c in d.categories for c in CATEGORIES] for _, d in ok], dtype=bool)
    R_any = np.array([_any_rank(d, policy, _ratios(d, policy)) for _, d in ok])
    for i, cat in enumerate(CATEGORIES):
        if Y[:, i].any() and not Y[:, i].all():
            report["categories"][cat] = {
                "positives": int(Y[:, i].sum()),
                "auprc": round(float(average_precision_score(Y[:, i], R[:, i])), 4),
                "f1": round(float(f1_score(Y[:, i], P[:, i], zero_division=0)), 4),
                "recall": round(float(P[Y[:, i], i].mean()), 4),
            }
    any_y = Y.any(1)
    if any_y.any() and not any_y.all():
        flagged = np.array([d.decision != "allow" for _, d in ok])
        report["any"] = {
            "positives": int(any_y.sum()),
            "negatives": int((~any_y).sum()),
            "auprc": round(float(average_precision_score(any_y, R_any)), 4),
            "f1": round(float(f1_score(any_y, flagged)), 4),
            "recall": round(float(flagged[any_y].mean()), 4),
            "fpr": round(float(flagged[~any_y].mean()), 4),
        }
        # At the deployed policy: the share of each category's prompts that are held or blocked at all
        # (whatever category they are filed under), and the benign false-positive rate.
        report["recall_flagged_per_category"] = {
            cat: round(float(flagged[Y[:, i]].mean()), 4) for i, cat in enumerate(CATEGORIES) if Y[:, i].any()
        }
        report["benign_fpr"] = report["any"]["fpr"]
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m veriframe.safety.evaluate", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument(
        "file", nargs="?", type=Path, help="labelled .csv/.tsv/.jsonl, or .txt with --benign/--unsafe"
    )
    ap.add_argument("--dev", type=Path, help="evaluate the development sets in this directory instead")
    ap.add_argument("--coco-limit", type=int, default=None, help="use only the first N COCO captions")
    ap.add_argument("--text-column", default="prompt")
    ap.add_argument("--label-column")
    ap.add_argument("--label-map", help="JSON {file label: category or null}")
    ap.add_argument("--benign", action="store_true", help="every prompt in FILE is benign")
    ap.add_argument("--unsafe", help="every prompt in FILE belongs to this category")
    ap.add_argument("--policy", type=Path, help="policy JSON (default: the shipped policy)")
    ap.add_argument("--rules-only", action="store_true", help="no classifier: the rule layer alone")
    ap.add_argument("--out", type=Path, help="also write the report JSON here")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from veriframe.safety.ensemble import load_default_classifier
    from veriframe.safety.policy import default_policy, load_policy

    policy = load_policy(args.policy) if args.policy else default_policy()
    classifier = None if args.rules_only else load_default_classifier()
    if args.dev:
        samples = dev_samples(args.dev, coco_limit=args.coco_limit)
        t0 = time.perf_counter()
        decisions = _decide_all(samples, policy, classifier)
        elapsed = time.perf_counter() - t0
        report = evaluate(samples, policy, classifier, decisions)
        report["seconds"] = round(elapsed, 1)
        # I2P's labels describe images; its `prompt_toxicity` column (Perspective API on the prompt text)
        # picks the prompts whose *text* is explicit. Reported against the benign video prompts.
        sub = [
            (s, d)
            for s, d in zip(samples, decisions, strict=True)
            if s.group.startswith("vbench") or float((s.meta or {}).get("prompt_toxicity") or 0) >= 0.5
        ]
        for s, _ in sub:
            if s.group.startswith("i2p"):
                s.group = "i2p prompt_toxicity>=0.5 (unsafe)"
        report["i2p_toxic_text_vs_vbench"] = evaluate(
            [s for s, _ in sub], policy, classifier, [d for _, d in sub]
        )
    else:
        if args.file is None:
            ap.error("give FILE or --dev DIR")
        label_map = json.loads(args.label_map) if args.label_map else None
        fixed = frozenset() if args.benign else frozenset({args.unsafe}) if args.unsafe else None
        samples = read_labelled(
            args.file,
            text_column=args.text_column,
            label_column=args.label_column,
            label_map=label_map,
            fixed=fixed,
        )
        report = evaluate(samples, policy, classifier)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
