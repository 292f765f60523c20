"""The v2 prompt classifier: MiniLM embedding heads + a character n-gram head, stacked.

What it scores, for each prompt:

- **whole-prompt context**: a long prompt is split into sentence chunks
  (``veriframe.safety.chunking.pieces_to_score``), each chunk is embedded, and the *mean* of the chunk
  embeddings stands for the whole prompt. The category heads (an MLP, below; logistic regressions in
  files before screen v9) and an "any unsafe" logistic regression read it (log-loss fitted, so their
  outputs are probabilities);
- **a chunk-level check**: the same category heads on each chunk; the screen compares the
  largest chunk score with a threshold that tightens with the number of chunks
  (:func:`chunk_threshold`), so one unsafe sentence hidden in a long benign prompt is still caught
  while the max over many chunks does not inflate false positives on long benign prompts;
- **a second member** for "any unsafe": a logistic regression over hashed character 2-5-grams of the
  normalised text (``sklearn.feature_extraction.text.HashingVectorizer``, no vocabulary to ship), which
  reads misspellings, slang and non-English words the English sentence encoder misses;
- **MLP heads** (new in screen v9): a one-hidden-layer perceptron (384 -> 256 ReLU -> sigmoid) over the
  same embedding for the categories (multi-label, replacing the per-category logistic regressions) and
  one for "any unsafe", a third stack member: the linear heads could not carve the category boundaries
  the error analysis found (depiction vs discussion, everyday crimes vs ordinary scenes);
- **the stack**: a logistic regression over the members' logits, fitted on out-of-fold predictions
  of the training split (``tools/train_moderation.py``), gives the final "any unsafe" score.

The model file (``safety/models/screen_v2.npz``) is written by ``tools/train_moderation.py``.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriframe.safety.categories import CATEGORIES
from veriframe.safety.chunking import pieces_to_score
from veriframe.safety.classifier import ClassifierError, MiniLMClassifier, _sigmoid

DEFAULT_MODEL = Path(__file__).with_name("models") / "screen_v2.npz"
ANY = "any"  # the key of the "any unsafe" score beside the categories


@dataclass(frozen=True)
class PromptScores:
    """Scores for one prompt: whole-prompt per category (plus ``"any"``), and the max over its chunks."""

    scores: dict[str, float]
    chunk_scores: dict[str, float] = field(default_factory=dict)
    n_chunks: int = 1


def chunk_threshold(threshold: float, n_chunks: int) -> float:
    """The chunk-level threshold for a prompt of ``n_chunks`` chunks.

    The max of n chunk scores exceeds a threshold about n times as often as one score does. Raising the
    threshold's logit by ``log(n)`` divides the tail odds by n (a Bonferroni-style correction for a
    logistic tail), so the chunk check's false-positive rate stays near the whole-prompt one however
    long the prompt is. One chunk: the threshold itself.
    """
    if n_chunks <= 1 or threshold >= 1.0:
        return threshold
    t = min(max(threshold, 1e-6), 1 - 1e-6)
    return float(_sigmoid(np.float64(math.log(t / (1 - t)) + math.log(n_chunks))))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@functools.cache
def _vectorizer(n_features: int, ngram_min: int, ngram_max: int):
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(ngram_min, ngram_max),
        n_features=n_features,
        alternate_sign=False,
        norm="l2",
        lowercase=True,
    )


class CharNgramHead:
    """Logistic regression over hashed character n-grams: ``weight`` (n_features,), ``bias``."""

    def __init__(self, weight: np.ndarray, bias: float, config: dict) -> None:
        self.weight = weight.astype(np.float32)
        self.bias = float(bias)
        self.vectorizer = _vectorizer(config["n_features"], *config["ngram_range"])

    def features(self, texts: Sequence[str]):
        return self.vectorizer.transform(list(texts))

    def probs(self, texts: Sequence[str]) -> np.ndarray:
        return _sigmoid(self.features(texts) @ self.weight + self.bias)


class MLPHead:
    """A one-hidden-layer perceptron with sigmoid outputs, as ``sklearn.neural_network.MLPClassifier``
    computes it (ReLU hidden layer): ``w1`` (384 x H), ``b1``, ``w2`` (H x K), ``b2``; or a bag of B such
    perceptrons (each array with a first axis of length B), whose probabilities are averaged."""

    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> None:
        if w1.ndim == 2:  # one perceptron (screen v9's file): a bag of one
            w1, b1, w2, b2 = w1[None], b1[None], w2[None], b2[None]
        self.w1, self.b1 = w1.astype(np.float32), b1.astype(np.float32)
        self.w2, self.b2 = w2.astype(np.float32), b2.astype(np.float32)

    @property
    def outputs(self) -> int:
        return self.w2.shape[-1]

    def probs(self, emb: np.ndarray) -> np.ndarray:
        members = zip(self.w1, self.b1, self.w2, self.b2, strict=True)
        probs = [_sigmoid(np.maximum(emb @ w1 + b1, 0.0) @ w2 + b2) for w1, b1, w2, b2 in members]
        return np.mean(probs, axis=0)


def _mlp(z, prefix: str, path: Path) -> MLPHead | None:
    keys = [f"{prefix}_{k}" for k in ("w1", "b1", "w2", "b2")]
    present = [k for k in keys if k in z]
    if not present:
        return None
    if len(present) < len(keys):
        missing = sorted(set(keys) - set(present))
        raise ClassifierError(f"model {path} is inconsistent: it has {present} but not {missing}")
    return MLPHead(*(z[k] for k in keys))


class EnsembleClassifier:
    """The default v2 classifier; also a :class:`veriframe.safety.classifier.Classifier` (``score``)."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        encoder: MiniLMClassifier | None = None,
        encoder_mode: str | None = None,
    ):
        """``encoder``: a MiniLM encoder to share; else one is built with ``encoder_mode`` (one of
        ``veriframe.safety.classifier.ENCODERS``; default ``DEFAULT_ENCODER``)."""
        self.model_path = Path(model_path) if model_path else DEFAULT_MODEL
        if not self.model_path.is_file():
            raise ClassifierError(
                f"no v2 screen model at {self.model_path}: run `python -m tools.train_moderation`"
            )
        with np.load(self.model_path, allow_pickle=False) as z:
            self.labels = [str(x) for x in z["labels"]]
            # Linear heads over the embedding, (C + 1) x 384: the categories, then "any". With MLP category
            # heads only the "any" row is read, and files from the eleventh fit on store that row alone.
            self.emb_weight = z["emb_weight"].astype(np.float32)
            self.emb_bias = z["emb_bias"].astype(np.float32)
            config = json.loads(str(z["config"]))
            self.char = CharNgramHead(z["char_weight"], float(z["char_bias"]), config["char"])
            # Optional (screen v9 on): MLP category heads replace the linear ones; an MLP "any" member.
            self.mlp_categories = _mlp(z, "mlp_cat", self.model_path)
            self.mlp_any = _mlp(z, "mlp_any", self.model_path)
            # over [logit emb_any, logit char_any(, logit mlp_any)]
            self.stack_weight = z["stack_weight"].astype(np.float64)
            self.stack_bias = float(z["stack_bias"])
        unknown = set(self.labels) - set(CATEGORIES)
        if unknown:
            raise ClassifierError(f"model {self.model_path} has unknown categories {sorted(unknown)}")
        members = 3 if self.mlp_any is not None else 2
        if self.stack_weight.shape != (members,):
            raise ClassifierError(
                f"model {self.model_path} is inconsistent: its stack weighs {self.stack_weight.size} members "
                f"but it has {members}; retrain it with `python -m tools.train_moderation`"
            )
        rows = self.emb_weight.shape[0] if self.emb_weight.ndim == 2 else -1
        allowed = (len(self.labels) + 1,) if self.mlp_categories is None else (1, len(self.labels) + 1)
        if rows not in allowed or self.emb_bias.shape != (rows,):
            raise ClassifierError(
                f"model {self.model_path} is inconsistent: its linear embedding heads have "
                f"{self.emb_weight.shape} weights and {self.emb_bias.shape} biases for {len(self.labels)} "
                f"labels ({' or '.join(map(str, allowed))} rows expected)"
            )
        if self.mlp_categories is not None and self.mlp_categories.outputs != len(self.labels):
            raise ClassifierError(
                f"model {self.model_path} is inconsistent: its MLP category head has "
                f"{self.mlp_categories.outputs} outputs for {len(self.labels)} labels"
            )
        self.config = config
        self.encoder = encoder or MiniLMClassifier(
            head_path=self.model_path.with_name("__no_head__.npz"), encoder=encoder_mode
        )
        self.name = f"minilm-l6-v2+{self.model_path.name}"

    # --- members -------------------------------------------------------------------------------------
    def head_probs(self, emb: np.ndarray) -> np.ndarray:
        """Per-category and "any" probabilities, (N x C+1), for embeddings: the categories from the MLP
        head when the model has one (its linear category rows are then not used), the last column from
        the linear "any" head."""
        if self.mlp_categories is None:
            return _sigmoid(emb @ self.emb_weight.T + self.emb_bias)
        linear_any = _sigmoid(emb @ self.emb_weight[-1] + self.emb_bias[-1])
        return np.column_stack([self.mlp_categories.probs(emb), linear_any])

    def final_any(self, whole: np.ndarray, probs: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The stacked "any unsafe" score from the whole-prompt embeddings, their ``head_probs`` and the
        (normalised) texts."""
        members = [probs[:, -1], self.char.probs([t.lower() for t in texts])]
        if self.mlp_any is not None:
            members.append(self.mlp_any.probs(whole)[:, 0])
        return _sigmoid(np.stack([_logit(m) for m in members], axis=1) @ self.stack_weight + self.stack_bias)

    # --- scoring -------------------------------------------------------------------------------------
    def score_prompts(self, texts: Sequence[str], *, chunks: bool = True) -> list[PromptScores]:
        """Scores for each (normalised) prompt: one encoder call for all prompts and their chunks
        (``chunks=False``: each prompt whole, truncated at the encoder's 128 tokens)."""
        if not texts:
            return []
        piece_lists = [pieces_to_score(t) if chunks else [t] for t in texts]
        flat = [p for ps in piece_lists for p in ps]
        emb = self.encoder.embed(flat)
        whole = np.zeros((len(texts), emb.shape[1]), dtype=np.float32)
        chunk_max = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        k = 0
        for i, ps in enumerate(piece_lists):
            block = emb[k : k + len(ps)]
            k += len(ps)
            mean = block.mean(0)
            whole[i] = mean / max(float(np.linalg.norm(mean)), 1e-9)
            if len(ps) > 1:
                chunk_max[i] = self.head_probs(block)[:, : len(self.labels)].max(0)
        probs = self.head_probs(whole)
        final_any = self.final_any(whole, probs, texts)
        out = []
        for i, ps in enumerate(piece_lists):
            scores = dict(zip(self.labels, map(float, probs[i, : len(self.labels)]), strict=True))
            scores[ANY] = float(final_any[i])
            chunks = dict(zip(self.labels, map(float, chunk_max[i]), strict=True)) if len(ps) > 1 else {}
            out.append(PromptScores(scores, chunks, len(ps)))
        return out

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """The :class:`Classifier` protocol: whole-prompt scores per category (and ``"any"``)."""
        return [p.scores for p in self.score_prompts(texts)]


@functools.cache
def load_default_ensemble(encoder_mode: str | None = None) -> EnsembleClassifier:
    """The committed v2 model, built once per process (per encoder mode)."""
    return EnsembleClassifier(encoder_mode=encoder_mode)


def load_default_classifier(encoder_mode: str | None = None) -> EnsembleClassifier:
    """The default classifier, built once per process: the v2 ensemble over MiniLM (here, above the
    classifier module it builds on). ``encoder_mode``: see ``veriframe.safety.classifier.ENCODERS``
    (None: the default, ``int8-per-text``). ``MiniLMClassifier()`` is the v1 head, kept for comparison in
    ``bench/bench_moderation.py``."""
    return load_default_ensemble(encoder_mode)
