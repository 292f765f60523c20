"""The full screen on the project-written video prompts: ``python -m tools.project_eval [--out r.json]``.

Two sets, both from ``tools/prompts/`` (see its README): the evaluation files ``eval_*.jsonl`` (never
trained on, never used for thresholds) and the held-out 20% of the training files ``train_*.jsonl`` (the
training run's hash split, same seed). Every prompt goes through ``safety.screen_many`` with the policy
and classifier a request would meet (rules, detectors, classifier; default: the shipped ones). Reported
per set: per category, the share of unsafe prompts flagged (review or block) under their own category
and under any category, plain and borderline apart; the benign false-positive rate, short and long
(>= 40 words) apart; and how many benign flags each rule family decided (counts only, no text). No dev
set is read. The held-out rows are in-sample for the shipped thresholds (they are tuned on that split), so
its benign rate is optimistic; the evaluation files' is the honest one.

    python -m tools.project_eval [--model safety/models/screen_v2.npz] [--policy FILE] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from tools.train_moderation import PROJECT_PROMPTS, _project_rows, _split_of
from veriframe import safety

# The shipped thresholds are tuned on the held-out split (tools/train_moderation.py), so its benign
# figure is in-sample: measured on rows the search did not see it is about 2.5x higher (the record's
# heldout_metrics.split_half_check; safety/models/TRAINING.md, "How far the held-out figures can be trusted").
HELDOUT_CAVEAT = (
    "The held-out rows are in-sample for the thresholds (tuned on this split): its benign rate is "
    "optimistic; the evaluation files' is the honest one (see the training record's split_half_check)."
)
LONG_WORDS = 40  # "long" = the 60-150-word cinematic style; 40 words separates it from short prompts


def load_sets(d: Path, seed: int, heldout: float) -> dict[str, list[dict]]:
    """``eval``: every row of ``eval_*.jsonl``; ``heldout``: the held-out rows of ``train_*.jsonl``."""
    rows_eval = [r for p in sorted(d.glob("eval_*.jsonl")) for r in _project_rows(p)]
    rows_train = [r for p in sorted(d.glob("train_*.jsonl")) for r in _project_rows(p)]
    return {
        "eval": rows_eval,
        "heldout": [r for r in rows_train if _split_of(r["text"], seed, heldout) == "heldout"],
    }


def _rate(hit: int, n: int) -> float | None:
    return round(hit / n, 4) if n else None


def _groups(row: dict) -> list[tuple[str, str]]:
    """The (group, kind) cells a row counts in: each of its categories and "ALL UNSAFE", overall and by
    kind; a benign row counts as "benign", overall and short or long."""
    if not row["labels"]:
        length = "short" if len(row["text"].split()) < LONG_WORDS else "long"
        return [("benign", "all"), ("benign", length)]
    return [(c, k) for c in (*row["labels"], "ALL UNSAFE") for k in ("all", row["kind"])]


def rule_family(rule: str | None) -> str:
    """A rule id without its index or threshold (``detector.people[4]`` -> ``detector.people``,
    ``classifier.chunk.violence>=0.71`` -> ``classifier.chunk.violence``): counts, never matched text."""
    return re.sub(r"\[\d+\]|>=.*$|\+.*$", "", rule or "none")


def summarise(rows: list[dict], decisions: list) -> dict:
    """Recall per category and kind (own category / any category) and benign FPR, short and long."""
    n, own, anyc, benign_rules = Counter(), Counter(), Counter(), Counter()
    for r, d in zip(rows, decisions, strict=True):
        flagged = d.decision != "allow"
        if flagged and not r["labels"]:
            benign_rules[rule_family(d.rule)] += 1
        for c, k in _groups(r):
            n[c, k] += 1
            own[c, k] += flagged and (c in ("ALL UNSAFE", "benign") or c in d.categories)
            anyc[c, k] += flagged
    recall = {
        c: {
            k: {"n": n[c, k], "own_category": _rate(own[c, k], n[c, k]), "any": _rate(anyc[c, k], n[c, k])}
            for k in ("all", "plain", "borderline")
            if n[c, k]
        }
        for c in sorted({c for c, _ in n} - {"benign"})
    }
    fpr = {
        k: {"n": n["benign", k], "fpr": _rate(anyc["benign", k], n["benign", k])}
        for k in ("short", "long", "all")
    }
    rules = dict(benign_rules.most_common())
    return {"rows": len(rows), "recall": recall, "benign_fpr": fpr, "benign_flags_by_rule": rules}


def markdown(report: dict) -> str:
    """The report as the tables in docs/safety.md."""
    out = []
    for name, part in report["sets"].items():
        out += [f"### {name} ({part['rows']} prompts)", ""]
        out += [
            "| category | n plain | plain: own (any) | n borderline | borderline: own (any) |",
            "|---|---|---|---|---|",
        ]
        for c, by_kind in part["recall"].items():
            cells = []
            for k in ("plain", "borderline"):
                r = by_kind.get(k)
                cells += [str(r["n"]), f"{r['own_category']:.1%} ({r['any']:.1%})"] if r else ["0", "-"]
            out.append(f"| {c} | " + " | ".join(cells) + " |")
        f = part["benign_fpr"]
        out += ["", "| benign | n | flagged |", "|---|---|---|"]
        out += [f"| {k} | {f[k]['n']} | {f[k]['fpr']:.2%} |" for k in ("short", "long", "all") if f[k]["n"]]
        rules = ", ".join(f"`{r}` {c}" for r, c in part["benign_flags_by_rule"].items())
        out += ["", f"Benign flags by deciding rule: {rules or 'none'}.", ""]
        if name == "heldout":
            out += [HELDOUT_CAVEAT, ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.project_eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=Path, default=PROJECT_PROMPTS, help="folder of the JSONL files")
    ap.add_argument("--model", type=Path, default=None, help="a screen_v2.npz (default: the shipped one)")
    ap.add_argument("--policy", type=Path, default=None, help="a policy JSON (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=20261124, help="the training run's seed (its split)")
    ap.add_argument("--heldout", type=float, default=0.2)
    ap.add_argument("--out", type=Path, help="write the JSON report here")
    ap.add_argument("--markdown", type=Path, help="write the tables here")
    args = ap.parse_args(argv)
    from veriframe.safety.ensemble import EnsembleClassifier
    from veriframe.safety.policy import load_policy

    policy = load_policy(args.policy) if args.policy else safety.default_policy()
    clf = EnsembleClassifier(args.model) if args.model else safety.load_default_classifier()
    report: dict = {"policy_version": policy.version, "classifier": clf.name, "sets": {}}
    for name, rows in load_sets(args.prompts, args.seed, args.heldout).items():
        decisions = []
        for i in range(0, len(rows), 32):
            decisions += safety.screen_many([r["text"] for r in rows[i : i + 32]], policy, clf)
        report["sets"][name] = summarise(rows, decisions)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
