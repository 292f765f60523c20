"""The threshold search's honesty checks in tools/train_moderation.py: cross-fitted training scores
(``--crossfit-thresholds``) and the split-half check every fit reports.

A fit's held-out figures are in-sample for its thresholds (they are tuned on the held-out split), so the
trainer also measures thresholds tuned on one half and applied to the other; and cross-fitted scores
must come from members that never saw the row. Both are checked on labels that carry no signal, where
any score that has seen its row looks informative.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tools.train_moderation import Example, crossfit_scores, split_half_check
from veriframe.safety.ensemble import PromptScores

LABELS = ["violence", "hate"]


def _noise_problem(n: int = 400, seed: int = 0):
    """Random unit embeddings and random labels: nothing to learn, everything to memorise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 384)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = (rng.random((n, len(LABELS))) < 0.3).astype(np.int8)
    texts = [f"row {i} {rng.integers(1e9)}" for i in range(n)]
    examples = [
        Example(t, frozenset(c for c, y in zip(LABELS, Y[i], strict=True) if y), "partiprompts")
        for i, t in enumerate(texts)
    ]
    return X, Y, texts, examples


def test_crossfit_scores_come_from_members_that_never_saw_the_row():
    from sklearn.linear_model import LogisticRegression

    X, Y, texts, examples = _noise_problem()
    # Two synthetic long prompts: fitted on, never scored (they are made of other training rows).
    for e in examples[:2]:
        e.source = "synthetic_long_benign"
    model = SimpleNamespace(
        labels=LABELS,
        config={"char": {"n_features": 2**10, "ngram_range": [2, 5]}},
        stack_weight=np.array([1.0, 0.0, 0.0]),  # the final "any" is the linear embedding member's
        stack_bias=0.0,
    )
    args = SimpleNamespace(mlp_bag=1, mlp_alpha=1e-2, C=4.0, char_C=8.0)
    chunks = [X[i : i + 1] for i in range(len(X))]
    weights, is_train = np.ones(len(X)), np.ones(len(X), bool)
    rows, scored = crossfit_scores(model, X, chunks, texts, Y, weights, is_train, examples, args)

    assert list(rows) == list(range(2, len(X)))
    any_y = Y.any(1)[rows]
    crossfit_any = np.array([p.scores["any"] for p in scored])
    in_sample = LogisticRegression(C=4.0, max_iter=2000).fit(X, Y.any(1)).predict_proba(X[rows])[:, 1]
    # In-sample, the 384-dimensional linear head memorises the noise; cross-fitted, it cannot.
    assert roc_auc_score(any_y, in_sample) > 0.95
    assert abs(roc_auc_score(any_y, crossfit_any) - 0.5) < 0.12
    for j, c in enumerate(LABELS):
        assert abs(roc_auc_score(Y[rows, j], [p.scores[c] for p in scored]) - 0.5) < 0.12


def test_the_split_half_check_measures_thresholds_on_rows_they_were_not_tuned_on():
    """Benign scores with one outlier per half: tuned on its own half a threshold sits just above that
    half's outlier; the other half's outlier is a false positive the in-sample figure never shows."""
    rng = np.random.default_rng(1)
    n = 2000
    texts = [f"prompt {i}" for i in range(n)]
    benign = rng.random(n) < 0.5
    Y = np.zeros((n, len(LABELS)), dtype=np.int8)
    Y[~benign, 0] = 1
    scored = []
    for i in range(n):
        v = rng.uniform(0.0, 0.55) if benign[i] else rng.uniform(0.6, 1.0)
        scored.append(PromptScores({"violence": float(v), "hate": 0.0, "any": 0.0}))
    check = split_half_check(scored, benign, Y, LABELS, 0.0, texts)
    assert check["tuned_fpr"] == 0.0  # each half's own benign rows: none flagged at target 0
    assert 0.0 < check["fpr"] < 0.01  # the other half's highest benign scores are above it
    assert check["recall_any"] == pytest.approx(1.0)
