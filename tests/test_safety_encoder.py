"""The default encoder: a prompt's embedding and scores do not depend on its batch mates or on padding."""

import random

import numpy as np
import pytest

from veriframe.safety.classifier import ClassifierError, MiniLMClassifier
from veriframe.safety.ensemble import EnsembleClassifier

TEXT = (
    "a red fox runs through fresh snow at dawn while an old man with a knife cuts bread slowly near the "
    "window of a small wooden house and two children laugh loudly, blood, naked, gun, sunset, ocean; "
    "CAPITAL Letters 1080p 3 cats U.S. résumé 東京"
)
WORDS = TEXT.split(" ")


def _texts(n: int, seed: int) -> list[str]:
    """Texts of very different lengths (1 to ~130 words: the longest are truncated at 128 tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.choice([1, 3, 8, 20, 45, 90, 130]))) for _ in range(n)]


@pytest.fixture(scope="module")
def encoders() -> tuple[MiniLMClassifier, MiniLMClassifier]:
    head = "/nonexistent/no-head.npz"  # encoder only
    return MiniLMClassifier(head_path=head), MiniLMClassifier(head_path=head, encoder="int8-batch")


def test_embedding_alone_equals_embedding_among_random_mates(encoders):
    new, _ = encoders
    texts = _texts(24, seed=1)
    alone = np.stack([new.embed([t])[0] for t in texts])
    rng = random.Random(2)
    for _ in range(2):
        order = list(range(len(texts)))
        rng.shuffle(order)
        for start in (0, 10):  # batches of 10 and 14 texts, different mates each time
            idx = order[start : start + 10] if start == 0 else order[start:]
            got = new.embed([texts[i] for i in idx])
            assert np.abs(got - alone[idx]).max() <= 1e-6


def test_new_encoder_equals_the_old_one_run_on_each_text_alone(encoders):
    """Same int8 arithmetic as before: what the heads were fitted on, minus the batch-mate noise."""
    new, old = encoders
    texts = _texts(12, seed=3)
    old_alone = np.stack([old.embed([t])[0] for t in texts])
    assert np.abs(new.embed(texts) - old_alone).max() <= 1e-6


def test_the_old_encoder_moves_with_its_mates(encoders):
    """The defect this encoder removes (and proof the mates above are enough to show it)."""
    _, old = encoders
    texts = _texts(16, seed=4)
    alone = np.stack([old.embed([t])[0] for t in texts])
    assert np.abs(old.embed(texts) - alone).max() > 1e-3


def test_prompt_scores_do_not_depend_on_batch_mates():
    clf = EnsembleClassifier()
    rng = random.Random(5)
    long_prompt = ". ".join(" ".join(rng.choices(WORDS, k=12)) for _ in range(6))  # several chunks
    prompts = [long_prompt, "a man cuts bread with a knife", "a naked man with a gun at sunset"]
    mates = _texts(20, seed=6)
    for p in prompts:
        alone = clf.score_prompts([p])[0]
        batch = [*rng.sample(mates, 9), p, *rng.sample(mates, 7)]
        among = clf.score_prompts(batch)[batch.index(p)]
        assert alone.n_chunks == among.n_chunks
        for key in alone.scores:
            assert abs(alone.scores[key] - among.scores[key]) <= 1e-6, key
        for key in alone.chunk_scores:
            assert abs(alone.chunk_scores[key] - among.chunk_scores[key]) <= 1e-6, key


def test_unknown_encoder_is_refused():
    with pytest.raises(ClassifierError, match="unknown encoder"):
        MiniLMClassifier(head_path="/nonexistent/no-head.npz", encoder="fp16")
