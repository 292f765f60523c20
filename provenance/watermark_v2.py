"""v2 detection: synchronise, fold every tile of every frame into one, find the shift, decode.

Geometry hypotheses, cheapest first (``watermark_sync``):

1. the frame's own pixel grid (no scaling): covers re-encoding, crops at any position, padding and
   letterboxing, temporal edits and, with a mirrored read, flips;
2. up to ``MAX_LATTICES`` lattices estimated from the residual's autocorrelation: scaling (with or
   without aspect change), rotation, shear and their combinations with crops, padding and flips;
3. only where the content moves (``watermark_motion``): the pixel grid with every frame moved back by
   its content's displacement (a mark a codec dragged along with a pan), and up to
   ``FRESH_LATTICES`` lattices of the content-cancelled mean (a fast pan's smear misleads the plain
   mean's lattice);
4. only on large frames (``UPSCALE_MIN_SIDE``): up to ``UPSCALED_LATTICES`` lattices searched on the
   frames halved in size, for copies upscaled beyond ``watermark_sync.MAX_SCALE`` (a 720x480 video
   stretched to 1920x1080 is 2.67 x 2.25), read at full size.

For each geometry the folded tile is read under its eight mirror images (flips, 90-degree turns); the
cyclic shift with the strongest sync correlation (a z-score over all ``TILE``^2 shifts) is the
translation; the ``DECODES_PER_GEOMETRY`` best images are decoded (soft values to
``payload.decode_soft``, format 2), best first.

False positives, by construction: at most ``MAX_DECODES`` soft vectors are decoded per video, each
yielding an id only if Reed-Solomon decoding succeeds *and* the 32-bit tag matches, which for pixels
without a mark happens with probability ``2^-32`` per candidate (``payload.MAX_CANDIDATES_PER_DECODE``
candidates per decode).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from veriframe.provenance import (
    parallel,
    payload,
    watermark_embed,
    watermark_motion,
    watermark_sync,
    watermark_tile,
)

MAX_LATTICES = 4
DECODES_PER_GEOMETRY = 4  # the best two mirror images, each read coherently and frame by frame
#: Motion hypotheses (``watermark_motion``, only where the content moves): the pixel grid with frames
#: moved back along the pan (the best mirror images, coherent only), and lattices of the
#: content-cancelled mean (each read like any other geometry).
DRAGGED_DECODES = 2
FRESH_LATTICES = 2
#: Upscaled copies: frames at least this large a side are searched again at half size (the lattice
#: search's range, 0.3x-2.2x, then covers 2.2x-4.4x of the full frame: a 2.2x upscale of a picture of
#: 272 pixels a side or more). Halving keeps the search's cost and false-positive budget fixed where
#: widening ``MAX_SCALE`` would grow the analysis window and the lag range for every video.
UPSCALE_MIN_SIDE = 600
UPSCALED_LATTICES = 2
MAX_DECODES = ((1 + MAX_LATTICES + FRESH_LATTICES + UPSCALED_LATTICES) * DECODES_PER_GEOMETRY
               + DRAGGED_DECODES)
#: Frames used for detection (evenly spaced): the mark is the same in every frame, so more frames
#: average more noise away; beyond this the gain is small and the cost linear.
DETECT_FRAMES = 24
#: The pixel-grid reads (per-frame residuals, the most costly part of an unmarked video's search at
#: large sizes) fold as many of those frames as hold the picture area of ``DETECT_FRAMES`` frames of
#: 720x480 (the size the detector was built and measured at): each frame's residual adds its pixels'
#: evidence to the one folded tile, so a 1920x1080 frame carries 6x a 720x480 one. Black bars (padding,
#: letterboxing) hold no mark and do not count. The frames' mean, the lattices and the motion estimate
#: still use all ``DETECT_FRAMES`` frames: an upscaled copy holds no more evidence than the copy.
GRID_PIXELS = DETECT_FRAMES * 720 * 480
MIN_GRID_FRAMES = 4
_BAR_RANGE = 2.0  # a row or column whose luma spans less than this (levels) is a black or flat bar
MIN_SIDE = 64  # smaller frames hold too little of a tile to read
_RESIDUAL_SIGMA = 4.0  # tile pixels: the high-pass scales with the geometry
_FRAME_Z = 4.5  # one frame's sync z-score below this is noise (the max over 16384 shifts is ~4.3)
#: Frames are aligned one by one only when the coherent sum already shows a sync peak above noise
#: level: that costs a warp per frame, and pictures without a mark (z ~4.3) would pay it every time.
_ALIGN_MIN_Z = 4.6
_LATTICE_FRAMES = 4
ALIGN_FRAMES = 12  # frames warped one by one under a lattice geometry


@dataclass(frozen=True)
class Reading:
    provenance_id: int
    bit_errors: int
    sync_z: float
    registration: str


def _mirror(folded: np.ndarray, turns: int, mirror: bool) -> np.ndarray:
    rotated = np.rot90(folded, turns)
    return rotated[:, ::-1] if mirror else rotated


def _mirrors(folded: np.ndarray):
    """The eight images of the folded tile under the square's symmetries, with names."""
    for turns in range(4):
        for mirror in (False, True):
            name = ("mirrored" if mirror else "upright") + (f", rotated {90 * turns}" if turns else "")
            yield name, _mirror(folded, turns, mirror), turns, mirror


def _sync_spec(spec: np.ndarray) -> tuple[float, tuple[float, float]]:
    """(z-score, sub-pixel shift (dy, dx)) of the best sync match of a folded tile's spectrum."""
    corr = watermark_tile.sync_correlation(spec)
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    peak = float(corr[iy, ix])
    z = peak / max(float(corr.std()), 1e-12)
    n = watermark_tile.TILE

    def vertex(a: float, c: float) -> float:
        denom = a - 2 * peak + c
        return 0.0 if abs(denom) < 1e-12 else float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))

    dy = iy + vertex(corr[(iy - 1) % n, ix], corr[(iy + 1) % n, ix])
    dx = ix + vertex(corr[iy, (ix - 1) % n], corr[iy, (ix + 1) % n])
    return z, (dy, dx)


def _aligned_sum(specs: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Frames' folded spectra, each moved back by its own sync shift, weighted by its sync strength.

    A codec's predicted frames carry the mark along with the motion (a pan drags it), so each frame's
    tile can sit at its own shift; frames whose sync is too weak to place (z below ``_FRAME_Z``) are
    left out rather than added at a random shift.
    """
    total = np.zeros_like(specs[0])
    weight = 0.0
    for spec in specs:
        z, shift = _sync_spec(spec)
        if z < _FRAME_Z:
            continue
        norm = max(float(np.sqrt(np.mean(np.abs(spec) ** 2))), 1e-12)
        total += (z - _FRAME_Z) * watermark_tile.unshift(spec, shift) / norm
        weight += z - _FRAME_Z
    return total, weight


def _folds(ys: list[np.ndarray], a: np.ndarray | None) -> list[np.ndarray]:
    scale = 1.0 if a is None else float(np.sqrt(abs(np.linalg.det(a))))
    sigma = _RESIDUAL_SIGMA * scale
    return parallel.ordered_map(lambda y: watermark_sync.fold(watermark_sync.residual(y, sigma), a), ys)


def _read_geometry(ys: list[np.ndarray], mean: np.ndarray, a: np.ndarray | None,
                   label: str, folds: list[np.ndarray] | None = None) -> Reading | None:
    """Decode attempts (at most ``DECODES_PER_GEOMETRY``) under one geometry hypothesis.

    On the pixel grid every frame's residual is folded (``folds``, computed here if not given, are
    kept for the alignment below). Under a lattice geometry the first read is the residual of the
    frames' *mean* luma, warped once: the mark is the same in every frame, so it adds up in the mean
    while moving content blurs away, and it costs one residual instead of one a frame (measured on the
    attack benchmark's lattice rows: it decodes wherever the sum of per-frame residuals did, at a sync
    z as high or higher). Frames are warped one by one only if that coherent read fails, and then
    only ``ALIGN_FRAMES`` of them.
    """
    if a is None:
        folds = _folds(ys, None) if folds is None else folds
        total = np.sum(folds, axis=0)
    else:
        folds = None
        scale = float(np.sqrt(abs(np.linalg.det(a))))
        total = watermark_sync.fold(watermark_sync.residual(mean, _RESIDUAL_SIGMA * scale), a)
    for z, shift, spec, name, turns, mirror in _ranked(total)[: DECODES_PER_GEOMETRY // 2]:
        decoded = payload.decode_soft_v2(watermark_tile.soft_bits(watermark_tile.unshift(spec, shift)))
        how = f"sync z {z:.1f}"
        if decoded is None and len(ys) > 1 and z >= _ALIGN_MIN_Z:
            if folds is None:
                step = max(1, len(ys) // ALIGN_FRAMES)
                folds = _folds(ys[::step], a)
            aligned, weight = _aligned_sum([np.fft.rfft2(_mirror(f, turns, mirror)) for f in folds])
            if weight > 0:
                decoded = payload.decode_soft_v2(watermark_tile.soft_bits(aligned))
                how = "frames aligned one by one"
        if decoded is not None:
            return Reading(decoded.provenance_id, decoded.bit_errors, round(z, 1),
                           f"v2 {label}, {name}, {how}")
    return None


def _ranked(total: np.ndarray) -> list[tuple]:
    """The folded tile's eight mirror images, strongest sync first: (z, shift, spectrum, name, turns,
    mirror)."""
    ranked = []
    for name, image, turns, mirror in _mirrors(total):
        spec = np.fft.rfft2(image)
        ranked.append((*_sync_spec(spec), spec, name, turns, mirror))
    ranked.sort(key=lambda item: -item[0])
    return ranked


def _read_dragged(ys: list[np.ndarray], folds: list[np.ndarray], d: np.ndarray) -> Reading | None:
    """The pixel grid read with every frame moved back by its content's displacement
    (``watermark_motion.dragged_sum``): a mark the codec carried along with a pan. At most
    ``DRAGGED_DECODES`` decodes (the best mirror images)."""
    total = np.fft.irfft2(watermark_motion.dragged_sum([np.fft.rfft2(f) for f in folds], d, ys[0].shape),
                          s=folds[0].shape)
    for z, shift, spec, name, _, _ in _ranked(total)[:DRAGGED_DECODES]:
        decoded = payload.decode_soft_v2(watermark_tile.soft_bits(watermark_tile.unshift(spec, shift)))
        if decoded is not None:
            return Reading(decoded.provenance_id, decoded.bit_errors, round(z, 1),
                           f"v2 pixel grid, {name}, frames moved back with the content's motion "
                           f"(sync z {z:.1f})")
    return None


def _read_fresh_lattices(ys: list[np.ndarray], d: np.ndarray) -> Reading | None:
    """Lattices from, and reads of, the content-cancelled mean (``watermark_motion.fresh_mark_mean``):
    at most ``FRESH_LATTICES`` geometries, for fast motion whose smear misleads the plain mean."""
    fresh = watermark_motion.fresh_mark_mean(ys, d)
    residual = watermark_sync.lattice_residual(fresh, 0.6 * _RESIDUAL_SIGMA)
    for a, score in watermark_sync.lattice_candidates([residual], FRESH_LATTICES):
        reading = _read_geometry(ys, fresh, a, _describe(a, score) + ", content's motion removed")
        if reading:
            return reading
    return None


def _read_upscaled(ys: list[np.ndarray], mean: np.ndarray) -> Reading | None:
    """Lattices found on the planes halved in size, beyond what the full-size search covers, each read
    at full size (the search needs only the lattice; the read wants every pixel). At most
    ``UPSCALED_LATTICES`` geometries."""
    h, w = mean.shape
    # The mean's lattice only: on the benchmark's upscaled copies it scored 7-28 where the per-frame
    # spectra's scored 1-18, and it costs a third as much (one residual instead of six).
    half = cv2.resize(mean, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    residual = watermark_sync.lattice_residual(half, 0.6 * _RESIDUAL_SIGMA)
    tried = 0
    for a, score in watermark_sync.lattice_candidates([residual], MAX_LATTICES):
        full = 2.0 * a
        if max(np.hypot(*full[:, 0]), np.hypot(*full[:, 1])) <= watermark_sync.MAX_SCALE:
            continue  # inside the full-size search's range: already read there
        reading = _read_geometry(ys, mean, full, _describe(full, score) + ", lattice found at half size")
        if reading:
            return reading
        tried += 1
        if tried == UPSCALED_LATTICES:
            break
    return None


def frame_lumas(frames: np.ndarray) -> list[np.ndarray]:
    """BT.601 luma planes (float32) of up to ``DETECT_FRAMES`` evenly spaced frames."""
    pick = np.linspace(0, len(frames) - 1, min(DETECT_FRAMES, len(frames))).round().astype(int)
    return parallel.ordered_map(lambda t: watermark_embed.luma(frames[t]), pick)


def _active_area(y: np.ndarray) -> int:
    """Pixels of a luma plane outside flat bars (rows and columns whose values barely vary)."""
    rows = int(np.count_nonzero(y.max(axis=1) - y.min(axis=1) >= _BAR_RANGE))
    cols = int(np.count_nonzero(y.max(axis=0) - y.min(axis=0) >= _BAR_RANGE))
    return rows * cols


def grid_frames(ys: list[np.ndarray]) -> np.ndarray:
    """Indices (evenly spaced, the first included) of the planes the pixel-grid reads fold:
    as many as hold ``GRID_PIXELS`` pixels of picture (see ``GRID_PIXELS``), at least
    ``MIN_GRID_FRAMES``, at most all."""
    need = -(-GRID_PIXELS // max(_active_area(ys[0]), 1))
    count = min(len(ys), max(MIN_GRID_FRAMES, need))
    return np.linspace(0, len(ys) - 1, count).round().astype(int)


def _lattices(ys: list[np.ndarray], mean: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Up to ``MAX_LATTICES`` geometry candidates: from the frames' mean (the mark adds up coherently
    where it stayed in place), then from their power spectra (where a codec dragged it with motion)."""
    sigma = 0.6 * _RESIDUAL_SIGMA
    step = max(1, len(ys) // _LATTICE_FRAMES)
    residuals = parallel.ordered_map(lambda y: watermark_sync.lattice_residual(y, sigma), [mean, *ys[::step]])
    found: list[tuple[np.ndarray, float]] = []
    for rs in (residuals[:1], residuals[1:]):
        for a, score in watermark_sync.lattice_candidates(rs, MAX_LATTICES // 2):
            if all(np.abs(a - b).max() * watermark_tile.TILE > 1.0 for b, _ in found):
                found.append((a, score))
    return found


def _mean(ys: list[np.ndarray]) -> np.ndarray:
    """Mean of the luma planes, accumulated in place (``np.mean`` of a list first stacks it: a copy of
    every frame, which cost more than all the sums on 1280x720 frames)."""
    total = ys[0].astype(np.float32, copy=True)
    for y in ys[1:]:
        total += y
    return total / len(ys)


def _describe(a: np.ndarray, score: float) -> str:
    sx, sy = np.hypot(*a[:, 0]), np.hypot(*a[:, 1])
    angle = np.degrees(np.arctan2(a[1, 0], a[0, 0]))
    return f"scale {sx:.3f}x{sy:.3f}, rotation {angle:+.1f} deg, lattice score {score:.1f}"


def detect(frames: np.ndarray) -> Reading | None:
    """The v2 mark in (T, H, W, 3) uint8 RGB frames, or None. Decodes at most ``MAX_DECODES`` times."""
    _, height, width, _ = frames.shape
    if min(height, width) < MIN_SIDE:
        return None
    ys = frame_lumas(frames)
    mean = _mean(ys)
    grid = grid_frames(ys)
    grid_ys = [ys[i] for i in grid]
    folds = _folds(grid_ys, None)
    reading = _read_geometry(grid_ys, mean, None, "pixel grid", folds)
    if reading:
        return reading
    motion = watermark_motion.displacements(ys)
    if motion is not None:
        reading = _read_dragged(grid_ys, folds, motion[grid])
        if reading:
            return reading
    for a, score in _lattices(ys, mean):
        reading = _read_geometry(ys, mean, a, _describe(a, score))
        if reading:
            return reading
    if motion is not None:
        reading = _read_fresh_lattices(ys, motion)
        if reading:
            return reading
    return _read_upscaled(ys, mean) if min(height, width) >= UPSCALE_MIN_SIDE else None
