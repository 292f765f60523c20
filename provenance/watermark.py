"""Invisible watermark: embed a provenance id in every frame, detect it over a whole video.

The current format is **v2** (``watermark_tile``, ``watermark_embed``, ``watermark_sync``,
``watermark_v2``): a periodic, band-limited luma pattern carrying the convolutionally coded id, added
under a perceptual mask, and found again after crops, scaling, aspect changes, rotation, flips,
padding and recompression by a lattice (autocorrelation) search and a sync correlation. Files marked
by earlier releases carry **v1** (``watermark_v1``, per-frame dwtDctSvd blocks); detection tries v2,
then v1, so both verify.

False positives per video, by construction: every decode yields an id only if its 32-bit tag
matches, which for unmarked pixels happens with probability 2^-32 per candidate, and the number of
candidates per video is bounded (:data:`MAX_CANDIDATES`), so P(false positive) <= MAX_CANDIDATES *
2^-32 (:data:`FALSE_POSITIVE_BOUND`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from veriframe.provenance import (
    parallel,
    payload,
    watermark_embed,
    watermark_informed,
    watermark_tile,
    watermark_v1,
    watermark_v2,
)
from veriframe.provenance.watermark_v1 import (
    MIN_PIXELS,
    WatermarkResult,
    check_embed_input,
    check_frames,
)

__all__ = ["MIN_PIXELS", "WATERMARK_ALGORITHM", "WatermarkResult", "detect_frames", "embed_frames"]

# MIN_PIXELS (256x256): the smallest frame the service marks (its output sizes start there).
# Detection reads much smaller copies (down to ``watermark_v2.MIN_SIDE`` pixels a side).
WATERMARK_ALGORITHM = (
    f"veriframe-wm-v2: {watermark_tile.TILE}x{watermark_tile.TILE} periodic luma tile, "
    f"{watermark_tile.NUM_BINS} spectral carriers ({watermark_tile.NUM_SYNC} sync), "
    f"64-bit id + BLAKE2b-32 tag, rate-1/3 K=7 convolutional code ({payload.V2_CODED_BITS} bits), "
    f"JND-masked, carrier tilt {watermark_tile.TILT:g}, informed (picture interference cancelled)"
)
#: Frames handed to the v1 fallback (old files carry the id in every frame); each of its hypotheses
#: reads as many of them as hold ``watermark_v1.BLOCK_BUDGET`` blocks (all 8 at 720x480).
V1_FRAMES = 8
MAX_CANDIDATES = watermark_v2.MAX_DECODES + watermark_v1.MAX_DECODES * payload.MAX_CANDIDATES_PER_DECODE
FALSE_POSITIVE_BOUND = MAX_CANDIDATES * 2.0**-32


def embed_frames(frames: np.ndarray, provenance_id: int, *, workers: int | None = None) -> np.ndarray:
    """Watermark every frame of ``frames`` (T, H, W, 3) uint8 RGB with ``provenance_id`` (new array).

    ``workers`` threads mark frames in parallel (OpenCV and NumPy release the GIL); 1 = this thread.
    """
    # OpenCV writes into C-ordered frames only: a strided view (a pipeline's transposed output) is copied.
    frames = np.ascontiguousarray(check_embed_input(frames, provenance_id))
    _, height, width, _ = frames.shape
    amps: list[np.ndarray] = [np.empty(0, np.float32)] * len(frames)
    # The informed correction needs the picture's fold over the video; a sample of frames estimates it
    # (the correction is one tile for all frames) at a fraction of the cost of folding every frame.
    stride = max(1, len(frames) // watermark_informed.SAMPLE_FRAMES)

    def measure(t: int) -> tuple[np.ndarray, np.ndarray] | None:
        y = watermark_embed.gray(frames[t])
        amps[t] = watermark_embed.strength(y)
        if t % stride:
            return None
        return (watermark_informed.fold_sum([watermark_informed.highpass(y)]),
                watermark_informed.fold_sum([amps[t]]))

    folds = [f for f in parallel.ordered_map(measure, range(len(frames)), workers) if f is not None]
    host, weight = np.sum([f[0] for f in folds], axis=0), np.sum([f[1] for f in folds], axis=0)
    # Informed embedding: one correction tile per video cancels the picture's interference.
    base = watermark_tile.tile(provenance_id)
    correction = watermark_informed.correction_tile(provenance_id, host, weight)
    pattern = watermark_embed.tiled(base + correction, height, width)
    out = np.empty(frames.shape, np.uint8)

    def mark(t: int) -> None:
        watermark_embed.apply(frames[t], amps[t], pattern, out=out[t])

    parallel.ordered_map(mark, range(len(frames)), workers)
    return out


def readable_after_encoding(mp4: str | Path, provenance_id: int) -> bool:
    """Whether the verifier reads ``provenance_id`` from the encoded video.

    The same frames (``media.VERIFY_FRAMES``, evenly spaced) through the same detector
    (:func:`detect_frames`) as `veriframe-verify`: a check on fewer frames passed videos that the
    verifier then failed to read.
    """
    from veriframe.provenance.media import VERIFY_FRAMES, sample_frames

    frames, _, _ = sample_frames(mp4, VERIFY_FRAMES)
    result = detect_frames(frames)
    return result.found and result.provenance_id == provenance_id


class UnreadableMark(RuntimeError):
    """Neither watermark reads back from this video: it must not be released."""


def detect_frames(frames: np.ndarray) -> WatermarkResult:
    """Look for a Veriframe watermark in ``frames`` ((T, H, W, 3) or one (H, W, 3) uint8 RGB image)."""
    frames = check_frames(frames)
    _, height, width, _ = frames.shape
    if min(height, width) < watermark_v2.MIN_SIDE:
        return WatermarkResult(False, None, 0.0, f"frames of {width}x{height} are too small to carry a mark "
                               f"(need {watermark_v2.MIN_SIDE} pixels a side)")
    reading = watermark_v2.detect(frames)
    if reading is not None:
        confidence = round(1.0 - reading.bit_errors / payload.V2_CODED_BITS, 4)
        return WatermarkResult(True, reading.provenance_id, confidence, reading.registration)
    if height * width >= watermark_v1.MIN_PIXELS:
        pick = np.linspace(0, len(frames) - 1, min(V1_FRAMES, len(frames))).round().astype(int)
        old = watermark_v1.detect_frames(frames[pick])
        if old.found:
            return WatermarkResult(True, old.provenance_id, old.confidence, f"v1 {old.registration}")
    return WatermarkResult(False, None, 0.0, "not found")
