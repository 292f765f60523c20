"""The v1 watermark (files marked before the tiled v2 format): still detected, no longer embedded.

``watermark.detect_frames`` falls back to :func:`detect_frames` here when no v2 mark is found, so
videos and frames marked by earlier releases keep verifying; :func:`embed_frames` stays for tests
that make such files.

Embedding: each frame's luma gets the 192 bits of ``payload.frame_bits(id, t)`` with the library's
``dwtDctSvd`` algorithm (``qim``) at ``SCALE``. Frames are marked in a thread pool (NumPy's SVD and
array maths release the GIL).

Detection combines soft evidence from every frame:

1. For every 4x4 LL block, the soft bit ``-sin(2 pi (s0' mod scale) / scale)`` (+1 at the bit-1 centre,
   -1 at bit-0, 0 on a decision boundary), where ``s0' = (s0 - offset) / gain``. The gain and offset
   (brightness changes, a codec's colour-range rounding) are estimated blind: both bit centres sit at
   ``scale/4`` modulo ``scale/2``, so the phase of ``mean(exp(2 pi i s0 / (gain scale/2)))`` gives the
   offset and its magnitude scores the gain. The remaining half-period ambiguity (an inversion) is
   resolved by the sync word.
2. Per frame, soft bits are averaged per embedded position; the frame's key is the one whose sync word
   correlates best, and the frame's weight is that correlation (unmarked or garbled frames weigh ~0).
3. The weighted sum over frames, un-shuffled with each frame's key, goes to ``payload.decode_soft``.

Geometry: first the frames as they are (re-encoding, scaling back, brightness, frame-rate changes);
then, for a size that matches a standard output size's aspect ratio, the frames resized to it; then, for
a size no standard size explains, a crop search: the 8x8 pixel phase that maximises the lattice
concentration (independent of the bits), then the original width and block offset that maximise sync
correlation. At most ``MAX_DECODES`` soft vectors are decoded per video, which bounds false positives
(see ``payload``): ``MAX_DECODES * MAX_CANDIDATES_PER_DECODE * 2^-32`` (about 1e-8).

Cost: v1 is only a fallback (every unmarked video pays for its whole search), so the work is bounded
by evidence, not by frame count: each hypothesis reads as many frames as hold ``BLOCK_BUDGET`` blocks
(what 8 frames of 720x480 hold, the size v1 was tested at), and the crop search ranks its 64 pixel
phases on a sample of ``PHASE_BLOCKS`` blocks each (every few block rows of 2 frames) instead of
4 whole frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from veriframe.provenance import parallel, payload, qim

SCALE = 48.0
MIN_PIXELS = 256 * 256  # the library refuses smaller frames
WATERMARK_ALGORITHM = (
    f"invisible-watermark/dwtDctSvd luma scale={SCALE:g}; veriframe-wm-v1 "
    f"(64-bit id, BLAKE2b-32 tag, RS({payload.CODEWORD_BITS // 8},{payload.CODEWORD_BITS // 8 - 8}), "
    f"{payload.SYNC_BITS}-bit sync, {payload.NUM_KEYS} frame keys)"
)
#: Output sizes (width, height) of the supported models, for re-registration of rescaled/cropped video.
STANDARD_SIZES = ((720, 480), (480, 720), (1360, 768), (768, 1360), (1280, 720), (720, 1280), (512, 512),
                  (256, 256))
GAINS = np.round(np.arange(0.85, 1.1501, 0.0025), 4)
MAX_DECODES = 9  # 1 as-is + 2 rescaled + 2 crop phases x 3 (width, offset) candidates
_CROP_PHASES = 2
_CROP_CANDIDATES = 3
_REGISTRATION_FRAMES = 4
#: 4x4 LL blocks read per geometry hypothesis: 8 frames of 720x480. Every block's soft bit is averaged
#: into its embedded position, so frames with more blocks reach the same evidence with fewer frames
#: (1280x720 and 1360x768: 3 frames, 1920x1080: 2), small ones read all 8. A copy rescaled to a
#: standard size counts at the smaller of the two sizes (upscaling adds no evidence).
BLOCK_BUDGET = 8 * 90 * 60
_MIN_FRAMES = 2
#: Blocks per pixel phase when ranking the crop search's 64 phases (2 frames, every k-th block row):
#: the crop cases of bench/bench_watermark_v1.py (10% and off-grid crops, H.264 CRF 23-30, four
#: contents, 720x480 and 1280x720) register at the same phase as when 4 whole frames ranked them.
PHASE_BLOCKS = 2700
_PHASE_FRAMES = 2
_MIN_CROP_FRACTION = 0.7
_L = payload.EMBED_BITS
# INV[k][logical bit] = position of that bit in frames with key k.
_INV = np.argsort(payload.KEYS, axis=1)
_SYNC_SIGN = 2.0 * payload.SYNC.astype(np.float64) - 1.0


@dataclass(frozen=True)
class WatermarkResult:
    """``confidence``: share of the 160 combined codeword bits that were already right before error
    correction (1.0 = no errors); 0.0 when nothing was found."""

    found: bool
    provenance_id: int | None
    confidence: float
    registration: str = "none"


def check_frames(frames: np.ndarray) -> np.ndarray:
    """``frames`` as a (T, H, W, 3) uint8 array (one image becomes T = 1), or ValueError."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3) or (H, W, 3), got {frames.shape} {frames.dtype}")
    if frames.shape[0] == 0:
        raise ValueError("no frames")
    return frames


def check_embed_input(frames: np.ndarray, provenance_id: int) -> np.ndarray:
    """``frames`` checked for marking (shape, type, at least ``MIN_PIXELS``) and the id's range."""
    frames = check_frames(frames)
    _, height, width, _ = frames.shape
    if height * width < MIN_PIXELS:
        raise ValueError(f"frames of {width}x{height} are too small to watermark (need {MIN_PIXELS} pixels)")
    if not 0 <= provenance_id < 1 << 64:
        raise ValueError("provenance id must be a 64-bit unsigned integer")
    return frames


def embed_frames(frames: np.ndarray, provenance_id: int, *, workers: int | None = None) -> np.ndarray:
    """Watermark every frame of ``frames`` (T, H, W, 3) uint8 RGB with ``provenance_id`` (new array)."""
    frames = check_embed_input(frames, provenance_id)
    out = np.empty_like(frames)

    def mark(t: int) -> None:
        out[t] = qim.embed_frame(frames[t], payload.frame_bits(provenance_id, t), SCALE)

    parallel.ordered_map(mark, range(len(frames)), workers)
    return out


def _luma(frames: np.ndarray) -> np.ndarray:
    """Luma planes (T, H, W) float32 for detection: OpenCV's BT.601 conversion, rounded to integers
    (a tenth of the cost of the float sum; a codec's Y plane is integer anyway, and the rounding moves
    s0 by ~0.3 against the 24-level bit period)."""
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)


def _s0(y: np.ndarray) -> np.ndarray:
    """s0 grids of a stack of luma planes (T, H, W) -> (T, rows, cols), on every core."""
    return np.stack(parallel.ordered_map(qim.top_singular_values, y))


def _lattice(values: np.ndarray, gain: float) -> complex:
    return complex(np.mean(np.exp(2j * np.pi * values / (gain * SCALE / 2))))


def _estimate_gain_offset(s0: np.ndarray, gains: np.ndarray = GAINS) -> tuple[float, float, float]:
    """(gain, offset, concentration) that best explain the s0 values as marked (see module doc)."""
    # Distinct values only: a flat area (padding, a grey canvas under a pasted crop) gives thousands of
    # identical s0 values whose common phase would otherwise outvote the marked blocks.
    sample = np.unique(np.round(s0.ravel(), 2))
    if sample.size > 20_000:  # plenty for a phase estimate; keeps the gain scan cheap
        sample = sample[:: sample.size // 20_000 + 1]
    # All gains at once: cycles[g, n] = s0[n] / (gain * scale/2), in float32 (phases only need ~1e-3).
    cycles = (sample[None, :] / (np.asarray(gains, np.float64)[:, None] * SCALE / 2)) % 1.0
    angle = (2 * np.pi * cycles).astype(np.float32)
    z = np.cos(angle).mean(axis=1) + 1j * np.sin(angle).mean(axis=1)
    best = int(np.argmax(np.abs(z)))
    gain = float(gains[best])
    offset = (np.angle(z[best]) / (2 * np.pi) - 0.25) * gain * SCALE / 2
    return gain, float(offset), float(abs(z[best]))


def _soft_positions(s0: np.ndarray, gain: float, offset: float, ncols: int, block_offset: int) -> np.ndarray:
    """Per-frame soft value of each embedded position: (T, L)."""
    t, rows, cols = s0.shape
    phase = np.mod((s0 - offset) / gain, SCALE) / SCALE
    soft = -np.sin(2 * np.pi * phase).reshape(t, -1)
    i, j = np.mgrid[0:rows, 0:cols]
    pos = ((i * ncols + j + block_offset) % _L).ravel()
    counts = np.maximum(np.bincount(pos, minlength=_L), 1)
    v = np.stack([np.bincount(pos, soft[f], minlength=_L) for f in range(t)]) / counts
    # Remove each frame's common bias: a flat area reads the same value at every position, while the
    # embedded bits are about half ones (whitened), so their mean is ~0.
    return v - v.mean(axis=1, keepdims=True)


def _sync_scores(v: np.ndarray) -> np.ndarray:
    """(T, K) correlation of each frame's sync word under each key (positive = right polarity)."""
    sync_pos = _INV[:, payload.CODEWORD_BITS :]  # (K, 32)
    return np.einsum("tks,s->tk", v[:, sync_pos], _SYNC_SIGN) / payload.SYNC_BITS


def _combine(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Codeword soft values combined over frames, and the summed sync evidence."""
    scores = _sync_scores(v)
    best = None
    for polarity in (1.0, -1.0):
        keys = np.argmax(polarity * scores, axis=1)
        weights = np.maximum(polarity * scores[np.arange(len(v)), keys], 0.0)
        if best is None or weights.sum() > best[0]:
            best = (float(weights.sum()), polarity, keys, weights)
    evidence, polarity, keys, weights = best
    code_pos = _INV[keys, : payload.CODEWORD_BITS]  # (T, 160)
    soft = polarity * np.einsum("t,tc->c", weights, np.take_along_axis(v, code_pos, axis=1))
    return soft, evidence


def _decode(
    s0: np.ndarray, ncols: int, block_offset: int, gains: np.ndarray, label: str
) -> WatermarkResult | None:
    gain, offset, _ = _estimate_gain_offset(s0, gains)
    soft, _ = _combine(_soft_positions(s0, gain, offset, ncols, block_offset))
    decoded = payload.decode_soft(soft)
    if decoded is None:
        return None
    confidence = 1.0 - decoded.bit_errors / payload.CODEWORD_BITS
    return WatermarkResult(True, decoded.provenance_id, round(confidence, 4), label)


def _resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    interp = cv2.INTER_AREA if width < frames.shape[2] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (width, height), interpolation=interp) for f in frames])


def _evenly(n: int, count: int) -> np.ndarray:
    """Indices of ``count`` evenly spaced frames of ``n`` (all of them when ``count >= n``)."""
    return np.linspace(0, n - 1, min(count, n)).round().astype(int)


def budget_frames(n: int, height: int, width: int) -> np.ndarray:
    """Frames (of ``n``, evenly spaced) one hypothesis reads at ``height`` x ``width``: enough to hold
    :data:`BLOCK_BUDGET` blocks, at least 2 (a lone frame's key guess is less sure), at most all."""
    rows, cols = qim.grid_shape(height, width)
    return _evenly(n, max(_MIN_FRAMES, -(-BLOCK_BUDGET // max(rows * cols, 1))))


def _block_rows(y: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th row of 8x8-pixel blocks of luma planes (T, H, W): their s0 values are those
    of the same blocks in the whole plane (blocks do not overlap)."""
    t, height, width = y.shape
    rows = height // 8
    return y[:, : rows * 8].reshape(t, rows, 8, width)[:, ::step].reshape(t, -1, width)


def _ranked_phases(frames: np.ndarray) -> list[tuple[float, int, int]]:
    """The 64 pixel phases (concentration at gain 1, dy, dx), best first, each scored on about
    :data:`PHASE_BLOCKS` blocks of 2 frames (the lattice concentration does not need the bits)."""
    sample = _luma(frames[_evenly(len(frames), _PHASE_FRAMES)])
    _, height, width = sample.shape
    step = max(1, round(len(sample) * (height // 8) * (width // 8) / PHASE_BLOCKS))
    phases = []
    for dy in range(8):
        for dx in range(8):
            s0 = _s0(_block_rows(sample[:, dy:, dx:], step))
            phases.append((abs(_lattice(s0.ravel(), 1.0)), dy, dx))
    return sorted(phases, reverse=True)


def _crop_candidates(s0_sample: np.ndarray, widths: list[int]) -> list[tuple[float, int, int]]:
    """(sync score, ncols, block offset) for every original width, best offsets first."""
    gain, offset, _ = _estimate_gain_offset(s0_sample, np.array([1.0]))
    candidates = []
    for original_width in widths:
        ncols = qim.grid_shape(8, original_width)[1]
        v0 = _soft_positions(s0_sample, gain, offset, ncols, 0)
        # Position q of the original = position (q - o) of this grid.
        sync_pos = _INV[:, payload.CODEWORD_BITS :]  # (K, 32)
        shifted = (sync_pos[..., None] - np.arange(_L)) % _L  # (K, 32, L)
        corr = np.einsum("tksl,s->tkl", v0[:, shifted], _SYNC_SIGN) / payload.SYNC_BITS
        for polarity in (1.0, -1.0):
            score = (polarity * corr).max(axis=1).clip(min=0).sum(axis=0)  # (L,)
            for o in np.argsort(score)[-_CROP_CANDIDATES:]:
                candidates.append((float(score[o]), ncols, int(o)))
    return sorted(candidates, reverse=True)


def _crop_search(frames: np.ndarray) -> WatermarkResult | None:
    """Re-register frames cropped from a standard-size video (at the original scale)."""
    _, height, width, _ = frames.shape
    widths = sorted({w for w, h in STANDARD_SIZES if width <= w and height <= h
                     and width >= _MIN_CROP_FRACTION * w and height >= _MIN_CROP_FRACTION * h})
    if not widths:
        return None
    registration = _luma(frames[_evenly(len(frames), _REGISTRATION_FRAMES)])
    y = _luma(frames[budget_frames(len(frames), height, width)])
    for _, dy, dx in _ranked_phases(frames)[:_CROP_PHASES]:
        seen = set()
        s0_all = _s0(y[:, dy:, dx:])
        for _, ncols, o in _crop_candidates(_s0(registration[:, dy:, dx:]), widths):
            if (ncols, o) in seen:
                continue
            seen.add((ncols, o))
            if len(seen) > _CROP_CANDIDATES:
                break
            result = _decode(s0_all, ncols, o, np.array([1.0]),
                             f"crop: pixel phase ({dx},{dy}), original width {ncols * 8}, block offset {o}")
            if result:
                return result
    return None


def detect_frames(frames: np.ndarray) -> WatermarkResult:
    """Look for a Veriframe watermark in ``frames`` ((T, H, W, 3) or one (H, W, 3) uint8 RGB image)."""
    frames = check_frames(frames)
    _, height, width, _ = frames.shape
    if height * width < MIN_PIXELS:
        return WatermarkResult(False, None, 0.0, f"frames of {width}x{height} are too small to carry a mark")
    s0 = _s0(_luma(frames[budget_frames(len(frames), height, width)]))
    result = _decode(s0, s0.shape[2], 0, GAINS, "as is")
    if result:
        return result
    aspect = width / height
    standard = (width, height) in STANDARD_SIZES
    rescales = [(w, h) for w, h in STANDARD_SIZES
                if (w, h) != (width, height) and abs(w / h - aspect) < 0.02 * aspect][:2]
    for w, h in rescales:
        # An upscaled copy holds no more evidence than the copy: the budget counts the smaller size.
        pick = budget_frames(len(frames), min(h, height), min(w, width))
        resized = _luma(_resize(frames[pick], w, h))
        result = _decode(_s0(resized), qim.grid_shape(h, w)[1], 0, GAINS, f"rescaled to {w}x{h}")
        if result:
            return result
    if not standard:
        found = _crop_search(frames)
        if found:
            return found
    return WatermarkResult(False, None, 0.0, "not found")
