"""Informed embedding for the v2 tile: cancel the part of the picture that would read against the mark.

A blind spread-spectrum detector sees the picture itself as noise: the host's own energy on the
carrier frequencies adds to (or works against) every chip. The embedder knows the picture, so it can
compute exactly what the detector's fold will see of it and remove the harmful part (the idea of
"improved spread spectrum", Malvar & Florencio 2003):

1. fold every frame's high-passed luma modulo the tile, summed over the video, as the detector does
   (a high-pass is a convolution, which folds into a known per-frequency gain, undone on the
   carriers; without it the folded picture would wrap its slow gradients into a sawtooth whose
   spectrum the detector never sees);
2. for every chip whose picture component points against the chip's sign, subtract it (up to
   ``CAP`` times the mark's own amplitude on that carrier, so no frequency is pushed far above the
   mark's energy); sync carriers have their picture component removed by ``SYNC_CANCEL``;
3. turn those corrections into one extra tile, divided by the summed strength at every tile
   position, so that the strength-modulated correction folds back to exactly the wanted spectrum.

Nothing changes for the detector or the format: the correction only removes interference the
detector would otherwise have read. It is computed once per video (the coherent sum is what the
detector reads first), costs a fold and two 128x128 FFTs, and is what lets the mark be read on
noise-like content, where the picture's projection dwarfs the mark.
"""

from __future__ import annotations

import cv2
import numpy as np

from veriframe.provenance import payload, watermark_tile
from veriframe.provenance.watermark_tile import TILE

#: Frames (evenly spaced) whose fold estimates the video's: the correction is one tile for the video.
SAMPLE_FRAMES = 12
#: Largest correction on a carrier, in units of the mark's own amplitude on that carrier.
CAP = 1.0
#: Share of the picture's component removed on data chips that oppose the mark (1 = all of it).
CANCEL = 1.0
#: Share of the picture's component removed on sync carriers.
SYNC_CANCEL = 1.0


#: Box size of the embedder's cheap high-pass (one running-sum blur): wide enough to keep most of the
#: lowest carrier ring (43-pixel periods), narrow enough to remove gradients.
HIGHPASS_BOX = 31


def _box_gain() -> np.ndarray:
    """Per-carrier gain of ``y - box(y)`` (box of HIGHPASS_BOX pixels) at the tile's carrier bins."""
    ky = np.fft.fftfreq(TILE)[watermark_tile.BIN_ROWS]
    kx = watermark_tile.BIN_COLS / TILE

    def box(f: np.ndarray) -> np.ndarray:
        f = np.where(np.abs(f) < 1e-9, 1e-9, f)
        return np.sin(np.pi * HIGHPASS_BOX * f) / (HIGHPASS_BOX * np.sin(np.pi * f))

    return 1.0 - box(ky) * box(kx)


_GAIN = _box_gain()


def highpass(y: np.ndarray) -> np.ndarray:
    """``y`` (uint8 or float32 luma) minus its HIGHPASS_BOX box blur, float32."""
    y = y.astype(np.float32, copy=False)
    return y - cv2.blur(y, (HIGHPASS_BOX, HIGHPASS_BOX), borderType=cv2.BORDER_REFLECT)


def fold_sum(planes: list[np.ndarray]) -> np.ndarray:
    """Sum of float32 planes modulo the tile (the detector's fold on the frame's own pixel grid)."""
    h, w = planes[0].shape
    ph, pw = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    padded = np.zeros((ph, pw), np.float32)
    total = np.zeros((TILE, TILE), np.float64)
    for plane in planes:
        padded[:h, :w] = plane
        total += padded.reshape(ph // TILE, TILE, pw // TILE, TILE).sum(axis=(0, 2), dtype=np.float64)
    return total


def _limited(correction: np.ndarray, limit: np.ndarray) -> np.ndarray:
    return np.clip(correction, -limit, limit)


def correction_tile(provenance_id: int, host_fold: np.ndarray, strength_fold: np.ndarray) -> np.ndarray:
    """The extra tile (float32, added to the mark's tile under the strength map) for one video.

    ``host_fold``: the frames' :func:`highpass` luma folded and summed (:func:`fold_sum`);
    ``strength_fold``: the strength maps folded and summed the same way.
    """
    host = np.fft.rfft2(host_fold)
    mark = watermark_tile.spectrum(payload.encode_id_v2(provenance_id))
    # The mark folds to (tile x summed strength); its spectrum on a carrier is about the tile's times
    # the mean summed strength: the unit in which the cap is expressed.
    scale = float(strength_fold.mean())
    rows, cols = watermark_tile.BIN_ROWS, watermark_tile.BIN_COLS
    sync, data = slice(0, watermark_tile.NUM_SYNC), slice(watermark_tile.NUM_SYNC, None)
    want = np.zeros_like(host)
    h, m = host[rows, cols] / _GAIN, mark[rows, cols] * scale
    limit = CAP * np.abs(m) / np.sqrt(2.0)  # per real / imaginary part
    want_sync = -SYNC_CANCEL * h[sync]
    want[rows[sync], cols[sync]] = (_limited(want_sync.real, limit[sync])
                                    + 1j * _limited(want_sync.imag, limit[sync]))
    hd, md = h[data], m[data]
    # A chip is hurt only where the picture's component has the opposite sign to the mark's.
    re = np.where(hd.real * md.real < 0, -CANCEL * hd.real, 0.0)
    im = np.where(hd.imag * md.imag < 0, -CANCEL * hd.imag, 0.0)
    want[rows[data], cols[data]] = _limited(re, limit[data]) + 1j * _limited(im, limit[data])
    # strength x correction must fold to irfft2(want): divide by the summed strength per position.
    folded = np.fft.irfft2(want, s=(TILE, TILE))
    return (folded / np.maximum(strength_fold, 1e-3 * max(scale, 1e-6))).astype(np.float32)
