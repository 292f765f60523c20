"""v2 geometric synchronisation: from attacked frames to folded tiles, whatever the geometry.

1. ``residual``: the frames' luma is averaged (the pattern is the same in every frame, so it adds up
   while moving content blurs away), high-passed and locally normalised (strong texture, which is
   noise to the detector, is turned down).
2. ``lattice_candidates``: the tile repeats, so the residual's autocorrelation peaks on the tile's
   lattice, as transformed by the attack: the two shortest near-horizontal / near-vertical peak vectors
   give scale, aspect ratio, rotation and shear. The autocorrelation is computed from a whitened
   spectrum (lines stand out, the picture's 1/f spectrum does not), with the codec's 8/16-pixel block
   grid notched out. Candidates are refined by a least-squares fit over every lattice peak in view.
3. ``fold``: the residual is warped back to the tile's coordinates and summed modulo the tile: every
   tile in every frame adds to one ``TILE`` x ``TILE`` estimate (translation is still unknown: the
   sync correlation finds it, see ``watermark_v2``).

Flips and 90-degree turns keep the lattice; they are resolved later by trying the folded tile's eight
mirror images.
"""

from __future__ import annotations

import cv2
import numpy as np

from veriframe.provenance import parallel
from veriframe.provenance.watermark_tile import TILE

MIN_SCALE, MAX_SCALE = 0.3, 2.2
MAX_ANGLE_DEG = 20.0
MIN_PEAK_Z = 4.0  # a lattice peak must stand this many standard deviations above the lag window
_MAX_LAG = int(MAX_SCALE * TILE * 1.05)
_ANALYSIS_SIZE = 544  # the lattice is estimated on at most this central window (>= 2 periods at 2.2x)


def residual(y: np.ndarray, sigma: float) -> np.ndarray:
    """High-passed (``y`` minus its blur at about ``sigma``), locally normalised residual of a luma plane.

    Two box-filter passes approximate a Gaussian of that sigma at a fraction of the cost.
    """
    y = y.astype(np.float32, copy=False)
    k = _kernel(sigma)
    r = y - cv2.blur(cv2.blur(y, (k, k)), (k, k))
    local = cv2.blur(np.abs(r), (2 * k + 1, 2 * k + 1))
    return r / (local + 1.0)


def _kernel(sigma: float) -> int:
    return max(3, round(np.sqrt(6.0 * sigma * sigma + 1.0)) | 1)


def lattice_residual(y: np.ndarray, sigma: float) -> np.ndarray:
    """``residual`` of only the part of ``y`` that ``lattice_candidates`` reads: its central window
    plus the filters' reach, so the window's values are those of the whole plane's residual. On a
    1920x1080 frame that is a quarter of the pixels (the residuals were a third of an unmarked video's
    v2 search there)."""
    reach = 3 * _kernel(sigma)
    h, w = y.shape
    top, left = max(0, (h - _ANALYSIS_SIZE) // 2 - reach), max(0, (w - _ANALYSIS_SIZE) // 2 - reach)
    return residual(y[top : h - top, left : w - left], sigma)


def _whitened_autocorrelation(rs: list[np.ndarray]) -> np.ndarray:
    """Linear autocorrelation from the frames' mean whitened power spectrum, (2L+1, 2L+1) lags around 0.

    Power spectra ignore translation, so frames whose mark drifted with the motion still add up.
    """
    h, w = rs[0].shape
    lag_y, lag_x = min(_MAX_LAG, int(0.8 * h)), min(_MAX_LAG, int(0.8 * w))
    # Zero padding to twice the size keeps the correlation linear (no wrap-around). Padding only by the
    # largest lag read would halve the FFTs' cost, but it samples the spectrum more coarsely, so the
    # 9x9 whitening blur spans more frequencies: measured, it lost the lattice of a 50% rescale of
    # fast-motion content (0.52x0.33 found instead of 0.50x0.50).
    ph, pw = cv2.getOptimalDFTSize(2 * h), cv2.getOptimalDFTSize(2 * w)

    def spectrum(r: np.ndarray) -> np.ndarray:
        padded = np.zeros((ph, pw), np.float32)
        padded[:h, :w] = r - r.mean()
        return np.abs(np.fft.rfft2(padded)) ** 2

    power = 0.0
    for p in parallel.ordered_map(spectrum, rs):  # summed in frame order: the same bits on any thread count
        power = power + p
    smooth = cv2.blur(power.astype(np.float32), (9, 9)) + 1e-6 * float(power.mean()) + 1e-12
    white = np.minimum(power / smooth, 25.0)
    # The codec's block grid (periods dividing 16 pixels) is periodic too: notch its spectral lines.
    for step in range(1, 16):
        col = round(step * pw / 16)
        if col < white.shape[1]:
            white[:, max(0, col - 1) : col + 2] = 0.0
        row = round(step * ph / 16)
        white[max(0, row - 1) : row + 2, :] = 0.0
        white[max(0, ph - row - 1) : ph - row + 2, :] = 0.0
    radius_y = np.abs(np.fft.fftfreq(ph))[:, None] * ph
    radius_x = np.arange(white.shape[1])[None, :]
    white[np.hypot(radius_y / ph, radius_x / pw) < 1.0 / (MAX_SCALE * TILE / 2)] = 0.0
    auto = np.fft.irfft2(white, s=(ph, pw))
    auto /= max(float(auto[0, 0]), 1e-12)
    return np.roll(auto, (lag_y, lag_x), axis=(0, 1))[: 2 * lag_y + 1, : 2 * lag_x + 1]


def _peak_at(auto: np.ndarray, centre: np.ndarray, origin: np.ndarray, reach: int = 2):
    """Sub-pixel position (lag, relative to ``origin``) and value of the maximum near lag ``centre``."""
    cy, cx = round(centre[1] + origin[1]), round(centre[0] + origin[0])
    y0, x0 = max(cy - reach, 1), max(cx - reach, 1)
    y1, x1 = min(cy + reach + 1, auto.shape[0] - 1), min(cx + reach + 1, auto.shape[1] - 1)
    if y0 >= y1 or x0 >= x1:
        return None
    window = auto[y0:y1, x0:x1]
    iy, ix = np.unravel_index(int(np.argmax(window)), window.shape)
    py, px = y0 + iy, x0 + ix
    value = float(auto[py, px])

    def vertex(a: float, b: float, c: float) -> float:
        denom = a - 2 * b + c
        return 0.0 if abs(denom) < 1e-12 else float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))

    dy = vertex(auto[py - 1, px], value, auto[py + 1, px])
    dx = vertex(auto[py, px - 1], value, auto[py, px + 1])
    return np.array([px + dx - origin[0], py + dy - origin[1]]), value


def _refine(auto: np.ndarray, origin: np.ndarray, a1: np.ndarray, a2: np.ndarray):
    """Least-squares fit of the basis (a1, a2) to every lattice peak within the lag window."""
    limit = np.array(origin) - 3
    for _ in range(2):
        rows, targets, weights = [], [], []
        for n1 in range(-6, 7):
            for n2 in range(-6, 7):
                p = n1 * a1 + n2 * a2
                if (n1, n2) == (0, 0) or np.any(np.abs(p) > limit) or np.hypot(*p) < 20:
                    continue
                found = _peak_at(auto, p, origin)
                if found is None or found[1] <= 0:
                    continue
                rows.append((n1, n2))
                targets.append(found[0])
                weights.append(found[1])
        if len(rows) < 3:
            break
        n = np.asarray(rows, np.float64) * np.sqrt(weights)[:, None]
        target = np.asarray(targets) * np.sqrt(weights)[:, None]
        basis, *_ = np.linalg.lstsq(n, target, rcond=None)
        a1, a2 = basis[0], basis[1]
    return a1, a2


_AXIS_PEAKS = 12  # strongest peaks per axis considered as basis vectors
#: Lattice points scored per basis pair: both coefficients non-zero, so a ridge along one axis (a pan's
#: motion streaks, a picture's straight edges) cannot make a wrong basis vector look right.
_OFF_AXIS = np.array([(n1, n2) for n1 in (-2, -1, 1, 2) for n2 in (-2, -1, 1, 2)], np.float64)


def _best_pairs(auto: np.ndarray, origin: np.ndarray, spread: float, h: np.ndarray, v: np.ndarray,
                keep: int = 2) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """The ``keep`` best (score, horizontal, vertical) basis pairs among the axes' strongest peaks.

    A pair scores the mean autocorrelation at its off-axis lattice points; half-length vectors score
    low (every other point falls between peaks). A basis that spans a sub-lattice of the true one
    (a vector twice or three times too long, or a sum of two) scores as well as the true one, so the
    best pair gives way to the smallest-cell pair that generates it (its vectors are integer
    combinations of that pair's) when that scores within 70% of it. A plain smallest-cell rule is not
    safe: a codec that drags the mark with a pan adds ghost peaks at multiples of the motion, a fine
    comb of its own, which does not generate the true lattice.
    """
    rows, cols = auto.shape
    scored = []
    for a1 in h:
        for a2 in v:
            cell = abs(a1[0] * a2[1] - a1[1] * a2[0])
            if cell < (MIN_SCALE * TILE) ** 2 * 0.5:
                continue
            points = _OFF_AXIS[:, :1] * a1 + _OFF_AXIS[:, 1:] * a2 + origin
            x, y = np.rint(points[:, 0]).astype(int), np.rint(points[:, 1]).astype(int)
            inside = (x >= 0) & (x < cols) & (y >= 0) & (y < rows)
            if inside.sum() < 4:
                continue
            score = float(auto[y[inside], x[inside]].mean()) / spread
            scored.append((score, cell, a1, a2))
    if not scored:
        return []
    scored.sort(key=lambda item: -item[0])
    best_score, _, b1, b2 = scored[0]

    def generates(c1: np.ndarray, c2: np.ndarray) -> bool:
        """Whether (b1, b2) are integer combinations of (c1, c2): the best pair spans a sub-lattice."""
        basis = np.stack([c1, c2], axis=1)
        if abs(np.linalg.det(basis)) < 1e-6:
            return False
        coefficients = np.linalg.solve(basis, np.stack([b1, b2], axis=1))
        return bool(np.all(np.abs(coefficients - np.rint(coefficients)) < 0.08))

    # The true basis rather than a sub-lattice of it (vectors twice or three times too long, or sums).
    # (Within 30% of the best score's magnitude: with 0.7 x best, a negative best, a picture without a
    # lattice, failed its own test and left nothing to choose from.)
    finer = [item for item in scored
             if item[0] >= best_score - 0.3 * abs(best_score) and generates(item[2], item[3])]
    first = min(finer, key=lambda item: item[1])
    rest = [item for item in scored if item is not first]
    return [(score, a1, a2) for score, _, a1, a2 in [first, *rest][:keep]]


def lattice_candidates(rs: list[np.ndarray], max_candidates: int = 4) -> list[tuple[np.ndarray, float]]:
    """Candidate 2x2 matrices ``A`` (tile pixel -> frame pixel) for frames' residuals ``rs``, best first,
    each with its lattice score (mean autocorrelation at off-axis lattice points, in lag-window
    standard deviations: ~0-2 for a picture without a periodic pattern)."""
    h, w = rs[0].shape
    top, left = max(0, (h - _ANALYSIS_SIZE) // 2), max(0, (w - _ANALYSIS_SIZE) // 2)
    window = (slice(top, top + _ANALYSIS_SIZE), slice(left, left + _ANALYSIS_SIZE))
    auto = _whitened_autocorrelation([r[window] for r in rs])
    origin = np.array([auto.shape[1] // 2, auto.shape[0] // 2])
    peaks = (auto == cv2.dilate(auto, np.ones((5, 5), np.uint8))) & (auto > 0)
    ys, xs = np.nonzero(peaks)
    lag = np.stack([xs - origin[0], ys - origin[1]], axis=1).astype(np.float64)
    length = np.hypot(lag[:, 0], lag[:, 1])
    keep = (length >= MIN_SCALE * TILE * 0.95) & (length <= MAX_SCALE * TILE * 1.05)
    # Peaks are scored against the spread of the whole lag window: a picture without the mark has
    # no peak standing out, and then no geometry is worth reading.
    spread = max(float(np.std(auto)), 1e-12)
    lag, length, value = lag[keep], length[keep], auto[ys[keep], xs[keep]]
    strong_enough = value >= MIN_PEAK_Z * spread
    lag, value = lag[strong_enough], value[strong_enough]
    angle = np.degrees(np.arctan2(lag[:, 1], lag[:, 0]))
    axes = []
    for axis_angle in (0.0, 90.0):  # near-horizontal and near-vertical basis vectors (x >= 0 / y >= 0)
        off = (angle - axis_angle + 180.0) % 360.0 - 180.0
        near = np.abs(off) <= MAX_ANGLE_DEG
        if not near.any():
            return []
        top = np.argsort(-value[near])[:_AXIS_PEAKS]
        axes.append(lag[near][top])
    options = _best_pairs(cv2.dilate(auto, np.ones((3, 3), np.uint8)), origin, spread, *axes)
    candidates = []
    for score, a1, a2 in options:
        b1, b2 = _refine(auto, origin, a1, a2)
        if abs(np.linalg.det(np.stack([b1, b2]))) < (MIN_SCALE * TILE) ** 2 * 0.5:
            continue
        candidates.append((np.stack([b1, b2], axis=1) / TILE, score))
    return candidates[:max_candidates]


def fold(r: np.ndarray, a: np.ndarray | None = None) -> np.ndarray:
    """Sum of ``r`` modulo the tile after undoing the frame geometry ``a`` (tile px -> frame px)."""
    if a is None:
        canonical = r
    else:
        h, w = r.shape
        corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64).T
        u = np.linalg.solve(a, corners)
        u_min, u_max = u.min(axis=1), u.max(axis=1)
        size = np.minimum(np.ceil(u_max - u_min).astype(int), 4096)
        matrix = np.hstack([a, (a @ u_min)[:, None]]).astype(np.float64)
        canonical = cv2.warpAffine(r, matrix, (int(size[0]), int(size[1])),
                                   flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    h, w = canonical.shape
    ph, pw = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    padded = np.zeros((ph, pw), np.float32)
    padded[:h, :w] = canonical
    return padded.reshape(ph // TILE, TILE, pw // TILE, TILE).sum(axis=(0, 2))
