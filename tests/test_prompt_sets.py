"""The project-written video prompt sets (tools/prompts/) and the tool that reports on them.

The sets train and evaluate the shipped classifier; these checks keep them well-formed and keep the
evaluation files out of training, which is what makes their figures in docs/safety.md mean anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import project_eval
from tools.train_moderation import (
    PROJECT_PROMPTS,
    Example,
    _dedupe,
    _dedupe_key,
    _project_rows,
    load_project_prompts,
    project_eval_keys,
)
from veriframe.safety import CATEGORIES

FILES = sorted(PROJECT_PROMPTS.glob("*.jsonl"))


def test_the_sets_are_there():
    names = {p.name for p in FILES}
    assert {"train_group_a.jsonl", "train_group_b.jsonl", "train_benign.jsonl"} <= names
    assert {"eval_by_a.jsonl", "eval_by_b.jsonl", "eval_benign.jsonl"} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_row_is_well_formed(path: Path):
    rows = list(_project_rows(path))  # raises on an unknown category or kind
    assert rows
    texts = [r["text"].strip() for r in rows]
    assert all(texts), "an empty prompt"
    assert len(set(texts)) == len(texts), "a prompt twice in one file"
    for r in rows:
        assert set(r["labels"]) <= set(CATEGORIES)
        # The minors category is left to the built-in term lists: nobody writes such prompts.
        assert "sexual/minors" not in r["labels"]
        assert (r["kind"] == "benign") == (not r["labels"]), r


def test_no_evaluation_prompt_is_trained_on():
    # Training keeps the evaluation files out (exact and near matches, word-set Jaccard >= 0.8). Run the
    # training loader's own deduplication over the project's training rows plus a near copy of an
    # evaluation prompt, and check what survives.
    eval_keys = project_eval_keys(PROJECT_PROMPTS)
    train = list(load_project_prompts(PROJECT_PROMPTS))
    a_prompt = next(r["text"] for r in _project_rows(PROJECT_PROMPTS / "eval_by_a.jsonl") if r["labels"])
    near_copy = Example(a_prompt + " 4k", frozenset(["public-figure"]), "project_video_unsafe")
    kept, dropped = _dedupe([*train, near_copy], set(), eval_keys)
    assert near_copy not in kept, "a near copy of an evaluation prompt would be trained on"
    assert sum(dropped["dropped_match_or_near_project_eval_prompts"].values()) >= 1
    assert not {_dedupe_key(e.text) for e in kept} & eval_keys


def test_the_report_tool_screens_through_the_real_screen(tmp_path):
    rows = [
        {"text": "a man beheading a prisoner with a knife, close-up, blood everywhere",
         "labels": ["violence/graphic"], "kind": "plain"},
        {"text": "a golden retriever catching a frisbee on a sunny beach", "labels": [], "kind": "benign"},
    ]
    (tmp_path / "eval_x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out, md = tmp_path / "report.json", tmp_path / "report.md"
    assert project_eval.main(["--prompts", str(tmp_path), "--out", str(out), "--markdown", str(md)]) == 0
    eval_part, heldout_part = md.read_text().split("### heldout")
    # The held-out split is in-sample for the thresholds: its section says so, the evaluation one does not.
    assert project_eval.HELDOUT_CAVEAT in heldout_part and project_eval.HELDOUT_CAVEAT not in eval_part
    report = json.loads(out.read_text())["sets"]["eval"]
    assert report["recall"]["violence/graphic"]["plain"]["any"] == 1.0
    assert report["benign_fpr"]["all"]["fpr"] == 0.0



def test_prompts_the_encoder_cannot_read_are_left_out_of_training_and_counted():
    """Rows with no Latin letter are dropped from training on purpose and counted (the encoder does not
    read them; the policy holds such prompts: tests/test_safety_scripts.py)."""
    texts = ["東京の夜景、ドローン撮影", "Ночной город с высоты", "a cat asleep on a sunny sill"]
    rows = [Example(t, frozenset(), "project_video_benign") for t in texts]
    kept, dropped = _dedupe(rows, set(), set())
    assert [e.text for e in kept] == [texts[2]] and dropped["dropped_empty"] == 2
