"""Global motion for the v2 detector: where a pan moved the content, and the two reads that use it.

A codec meets a moving mark in two ways (measured on the attack benchmark's fast pan, 24 px a frame):

- at moderate quality (CRF 23-30) every frame is coded with its own, static copy of the mark; the
  frames' mean holds it, but the content smeared along the pan (and, on a rescaled copy, the ghost
  lattice that smear leaves in the autocorrelation) can make the lattice search take a wrong vector
  (1.99x0.75 instead of 1.00x0.75 on a 720x360 copy). :func:`fresh_mark_mean` removes the content
  instead: each frame minus the previous one moved by the content's motion. Content that only moved
  cancels; the static mark does not (it did not move with the content), so what is left is the mark
  minus a copy of it at the pan's offsets, which average out over many offsets.
- at low quality (CRF 40) the codec keeps the intra frame's copy and predicts the following frames
  from moved content, so the mark travels with the pan: frame t holds it at the content's
  displacement since the intra frame. :func:`dragged_sum` moves each frame's folded tile back by that
  displacement and adds them, each weighted by the share of the intra frame's content still in view.

Both need the content's displacement from frame to frame (:func:`displacements`): phase correlation of
half-size luma between consecutive read frames, accumulated. A whole-frame estimate is kept when it
agrees with the previous step (a steady pan); otherwise six blocks are estimated too and the value
most of them agree on is taken (a large object moving across the frame wins a whole-frame estimate).
"""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np

from veriframe.provenance import watermark_tile

#: Below this median step (pixels between read frames) the content counts as static: the static fold
#: already adds the mark up, a difference of frames would remove it, and nothing is read.
MIN_STEP_PX = 4.0
#: Displacements are estimated on luma scaled by at most 1/2 and to at most this many pixels on the
#: longer side (phase correlation's cost grows with the area; a 1280x720 frame at half size cost 4 ms a
#: pair, about 0.1 s a video, for no better estimate of a global pan).
_MAX_SCALE, _ANALYSIS_SIDE = 0.5, 384
_AGREE_PX = 1.5  # (analysis pixels) block estimates this close count as the same motion
_STEADY_PX = 3.0  # (analysis pixels) a whole-frame step this close to the previous one is kept


def _phase_step(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, float]:
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(a, b, window)
    return np.array([dy, dx]), float(response)


def _step(a: np.ndarray, b: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Content displacement (dy, dx) from ``a`` to ``b`` (same-size planes)."""
    whole, response = _phase_step(a, b)
    if previous is not None and np.hypot(*(whole - previous)) < _STEADY_PX:
        return whole
    h, w = a.shape
    estimates, responses = [whole], [response]
    for i in range(2):
        for j in range(3):
            part = (slice(i * h // 2, (i + 1) * h // 2), slice(j * w // 3, (j + 1) * w // 3))
            step, resp = _phase_step(np.ascontiguousarray(a[part]), np.ascontiguousarray(b[part]))
            estimates.append(step)
            responses.append(resp)
    e, r = np.array(estimates), np.array(responses)
    agree = np.hypot(*(e[:, None] - e[None]).transpose(2, 0, 1)) < _AGREE_PX
    best = agree[int(np.argmax(agree.sum(axis=1) + 0.01 * r))]
    return (e[best] * r[best, None]).sum(axis=0) / max(float(r[best].sum()), 1e-12)


def displacements(ys: list[np.ndarray]) -> np.ndarray | None:
    """(N, 2) content displacement (dy, dx, frame pixels) of each luma plane relative to the first, or
    None when fewer than two planes are given or the content is (nearly) static."""
    if len(ys) < 2:
        return None
    scale = min(_MAX_SCALE, _ANALYSIS_SIDE / max(ys[0].shape))
    small = [cv2.resize(y, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for y in ys]
    steps, previous = [], None
    for a, b in pairwise(small):
        previous = _step(a, b, previous)
        steps.append(previous / scale)
    if float(np.median(np.hypot(*np.array(steps).T))) < MIN_STEP_PX:
        return None
    return np.vstack([np.zeros((1, 2)), np.cumsum(steps, axis=0)])


def fresh_mark_mean(ys: list[np.ndarray], d: np.ndarray) -> np.ndarray:
    """Mean over frames of each luma plane minus the previous one moved by the content's step."""
    total = np.zeros_like(ys[0], dtype=np.float32)
    h, w = ys[0].shape
    for previous, current, (dy, dx) in zip(ys, ys[1:], np.diff(d, axis=0), strict=False):
        moved = cv2.warpAffine(previous, np.float32([[1, 0, dx], [0, 1, dy]]), (w, h),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        total += current
        total -= moved
    return total / (len(ys) - 1)


def dragged_sum(specs: list[np.ndarray], d: np.ndarray, shape: tuple[int, int],
                a: np.ndarray | None = None) -> np.ndarray:
    """Frames' folded spectra, each moved back by its content displacement since the first frame.

    ``a`` (tile px -> frame px) maps the frame displacement into tile coordinates. Each frame is
    normalised to unit power and weighted by the share of the first frame's content still in view
    (a codec that drags the intra frame's copy has no more of it once that content has left).
    """
    h, w = shape
    inverse = np.eye(2) if a is None else np.linalg.inv(a)
    total = np.zeros_like(specs[0])
    for spec, (dy, dx) in zip(specs, d, strict=True):
        overlap = max(0.0, (w - abs(dx)) * (h - abs(dy))) / (w * h)
        if overlap <= 0.0:
            continue
        tx, ty = inverse @ np.array([dx, dy])
        norm = max(float(np.sqrt(np.mean(np.abs(spec) ** 2))), 1e-12)
        total += overlap * watermark_tile.unshift(spec, (float(ty), float(tx))) / norm
    return total
