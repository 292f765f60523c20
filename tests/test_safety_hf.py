"""The Hugging Face checkpoint path, with a tiny BertForSequenceClassification built by the test."""

import math
from pathlib import Path

import pytest

from veriframe.safety.classifier import ClassifierError, HFClassifier, load_label_map
from veriframe.safety.policy import Policy, Thresholds
from veriframe.safety.screen import screen

LABELS = {0: "safe", 1: "toxic", 2: "sexual_explicit"}
BIAS = [0.0, 2.0, -1.0]  # the head's weights are zeroed: outputs are exactly these logits
LABEL_MAP = {"safe": None, "toxic": "harassment", "sexual_explicit": "sexual"}


def _build(path: Path, *, multi_label: bool) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path.mkdir()
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "cat", "on", "the", "moon"]
    (path / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(vocab_file=str(path / "vocab.txt"))
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        problem_type="multi_label_classification" if multi_label else None,
    )
    model = BertForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor(BIAS))
    out = path / "ckpt"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def softmax_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("hf") / "softmax", multi_label=False)


def test_softmax_checkpoint_scores_through_the_label_map(softmax_ckpt: Path) -> None:
    clf = HFClassifier(softmax_ckpt, LABEL_MAP)
    scores = clf.score(["a cat on the moon", "the moon"])
    z = sum(math.exp(b) for b in BIAS)
    for s in scores:
        assert set(s) == {"harassment", "sexual"}
        assert s["harassment"] == pytest.approx(math.exp(2.0) / z, abs=1e-5)
        assert s["sexual"] == pytest.approx(math.exp(-1.0) / z, abs=1e-5)


def test_multi_label_checkpoint_uses_a_sigmoid(tmp_path: Path) -> None:
    clf = HFClassifier(_build(tmp_path / "multi", multi_label=True), LABEL_MAP)
    (s,) = clf.score(["a cat"])
    assert s["harassment"] == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-5)
    assert s["sexual"] == pytest.approx(1 / (1 + math.exp(1.0)), abs=1e-5)


def test_screen_with_a_checkpoint_applies_the_policy_thresholds(softmax_ckpt: Path) -> None:
    clf = HFClassifier(softmax_ckpt, LABEL_MAP)
    policy = Policy(
        version=3,
        thresholds={
            "harassment": Thresholds(review=0.5, block=0.95),
            "sexual": Thresholds(review=0.5, block=0.9),
        },
    )
    d = screen("a cat on the moon", policy, clf)
    assert (d.decision, d.categories, d.policy_version) == ("review", ["harassment"], 3)
    assert d.classifier == "hf:ckpt"


def test_bad_label_maps_and_paths_are_clear_errors(softmax_ckpt: Path, tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match="not one of the model's labels"):
        HFClassifier(softmax_ckpt, {"insult": "harassment"})
    with pytest.raises(ClassifierError, match="unknown category"):
        HFClassifier(softmax_ckpt, {"toxic": "rudeness"})
    with pytest.raises(ClassifierError, match="maps no label"):
        HFClassifier(softmax_ckpt, {"safe": None})
    with pytest.raises(ClassifierError, match="not a directory"):
        HFClassifier(tmp_path / "missing", LABEL_MAP)
    assert load_label_map('{"toxic": "harassment"}') == {"toxic": "harassment"}
    with pytest.raises(ClassifierError, match="JSON"):
        load_label_map("{toxic")
