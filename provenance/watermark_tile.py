"""The v2 watermark's periodic tile: a band-limited pattern whose spectrum carries a sync word and the code.

One tile is ``TILE`` x ``TILE`` pixels and repeats over the whole frame (and over every frame). Its 2-D
spectrum is non-zero only on an annulus of spatial frequencies (``R_LO``-``R_HI`` cycles per tile,
periods of about 7-43 pixels): high enough to stay clear of the picture's low-frequency content and to
be invisible as blocks, low enough to survive a 3x downscale, blur and heavy compression.
Every annulus bin has magnitude 1 (a flat spectrum, so the pattern looks like fine film grain):

- ``SYNC_SHARE`` of the bins carry a fixed pseudo-random phase (the sync pattern). The detector
  finds the tile's unknown cyclic shift, and so the picture's translation, by correlating with it;
- every other bin carries two code bits, one on its real part and one on its imaginary part, each
  with a fixed pseudo-random sign. The 306 coded bits (``payload``, format 2) are spread over those
  bin halves, each bit several times at different frequencies and orientations.

A periodic pattern's autocorrelation peaks on its lattice, which is how the detector recovers scale,
rotation and aspect ratio (``watermark_sync``); because the tile repeats, any crop holding about one
tile (at the embedding scale) carries the whole id.
"""

from __future__ import annotations

import numpy as np

from veriframe.provenance import payload

TILE = 128
R_LO, R_HI = 3.0, 18.0
SYNC_SHARE = 0.3
#: Carrier magnitude ~ radius^-TILT: more energy at the low end of the band, which codecs keep (at
#: H.264 CRF 40 only the carriers below ~8 cycles per tile survive) and which SSIM barely punishes.
#: Files marked before this release used TILT 0 (a flat spectrum): the chips, signs and sync phases do
#: not depend on the tilt, so the same detector reads both (its matched filter is just slightly off
#: for the old ones; ``tests/test_watermark.py`` checks they are still read).
TILT = 1.0

_rng = np.random.default_rng(0x7E1F_0002)  # fixed: part of the format, not a secret


def _annulus() -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices (``rfft2`` layout) of the carrier bins, in a fixed pseudo-random order."""
    ky = np.fft.fftfreq(TILE, 1.0 / TILE)[:, None]
    kx = np.arange(TILE // 2 + 1)[None, :]
    radius = np.hypot(ky, kx)
    # kx = 0 and the Nyquist column hold Hermitian pairs inside the rfft2 half-plane: left out so that
    # every used bin is an independent complex coefficient.
    usable = (radius >= R_LO) & (radius <= R_HI) & (kx > 0) & (kx < TILE // 2)
    rows, cols = np.nonzero(usable)
    order = _rng.permutation(rows.size)
    return rows[order], cols[order]


BIN_ROWS, BIN_COLS = _annulus()
NUM_BINS = BIN_ROWS.size
_RADIUS = np.hypot(np.fft.fftfreq(TILE, 1.0 / TILE)[BIN_ROWS], BIN_COLS)


def magnitude(tilt: float) -> np.ndarray:
    """Carrier magnitudes for a tilt, normalised to the same total energy whatever the tilt."""
    m = (_RADIUS / R_LO) ** -tilt
    return m / np.sqrt(np.mean(m**2))


MAGNITUDE = magnitude(TILT)
NUM_SYNC = round(SYNC_SHARE * NUM_BINS)
#: Sync bins: the first NUM_SYNC of the shuffled annulus, each with a fixed unit phasor.
SYNC_PHASOR = np.exp(2j * np.pi * _rng.random(NUM_SYNC))
_DATA_ROWS, _DATA_COLS = BIN_ROWS[NUM_SYNC:], BIN_COLS[NUM_SYNC:]
NUM_CHIPS = 2 * (NUM_BINS - NUM_SYNC)  # real and imaginary half of every data bin
#: CHIP_BIT[c] = the codeword bit carried by chip c; CHIP_SIGN[c] = its pseudo-random sign.
CHIP_BIT = np.resize(_rng.permutation(payload.V2_CODED_BITS), NUM_CHIPS)[_rng.permutation(NUM_CHIPS)]
CHIP_SIGN = _rng.choice([-1.0, 1.0], NUM_CHIPS)
_NORM = TILE * TILE / np.sqrt(2.0 * NUM_BINS)  # makes the tile's RMS exactly 1


def spectrum(codeword: np.ndarray, tilt: float = TILT) -> np.ndarray:
    """The tile's ``rfft2`` coefficients for the 306 coded bits (0/1)."""
    mag = MAGNITUDE if tilt == TILT else magnitude(tilt)
    spec = np.zeros((TILE, TILE // 2 + 1), np.complex128)
    spec[BIN_ROWS[:NUM_SYNC], BIN_COLS[:NUM_SYNC]] = SYNC_PHASOR * mag[:NUM_SYNC]
    chips = CHIP_SIGN * (2.0 * np.asarray(codeword, np.float64)[CHIP_BIT] - 1.0)
    half = NUM_CHIPS // 2
    spec[_DATA_ROWS, _DATA_COLS] = (chips[:half] + 1j * chips[half:]) / np.sqrt(2.0) * mag[NUM_SYNC:]
    return spec * _NORM


def tile(provenance_id: int, tilt: float = TILT) -> np.ndarray:
    """The ``TILE`` x ``TILE`` float32 pattern (RMS 1) that carries ``provenance_id``.

    ``tilt=0`` gives the flat-spectrum tile of files marked by the first v2 release.
    """
    codeword = payload.encode_id_v2(provenance_id)
    return np.fft.irfft2(spectrum(codeword, tilt), s=(TILE, TILE)).astype(np.float32)


_ALL_RADIUS = np.hypot(np.fft.fftfreq(TILE, 1.0 / TILE)[:, None], np.arange(TILE // 2 + 1)[None, :])
_RING = np.rint(_ALL_RADIUS).astype(np.int64)  # every rfft2 bin's ring (integer radius)
_BIN_RING = _RING[BIN_ROWS, BIN_COLS]
_RING_COUNT = np.bincount(_RING.ravel())
#: Detector weighting: each carrier is divided by its ring's power to the WHITEN (1 = the matched filter
#: for Gaussian noise of that spectrum, 0 = plain correlation). Measured on the attack benchmark (49
#: frames, H.264 CRF 35/40): 0.5 reads best (1 over-trusts rings whose power estimate is itself noisy).
WHITEN = 0.5


def bin_weights(folded_spec: np.ndarray) -> np.ndarray:
    """Matched-filter weight of every carrier bin: its magnitude over the noise power of its ring.

    What is left in a folded tile besides the mark is the picture's and the codec's residue, whose
    power depends mostly on the spatial frequency (the ring) and is far from flat; the mark is weak
    next to it, so a ring's mean power is an estimate of its noise power. Weighting each carrier by
    magnitude / noise power is the optimal linear combination (the log-likelihood for Gaussian noise).
    """
    power = np.bincount(_RING.ravel(), (np.abs(folded_spec) ** 2).ravel(), minlength=_RING_COUNT.size)
    power = power / np.maximum(_RING_COUNT, 1)
    ring_power = np.maximum(power[_BIN_RING], 1e-12 * max(float(power.max()), 1e-30))
    return MAGNITUDE / ring_power**WHITEN


def sync_correlation(folded_spec: np.ndarray) -> np.ndarray:
    """Cyclic cross-correlation (TILE x TILE, by shift) of a folded tile's spectrum with the sync pattern."""
    g = np.zeros_like(folded_spec)
    weights = bin_weights(folded_spec)
    g[BIN_ROWS[:NUM_SYNC], BIN_COLS[:NUM_SYNC]] = (
        folded_spec[BIN_ROWS[:NUM_SYNC], BIN_COLS[:NUM_SYNC]] * np.conj(SYNC_PHASOR) * weights[:NUM_SYNC]
    )
    return np.fft.irfft2(g, s=(TILE, TILE))


def unshift(spec: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    """A folded tile's spectrum with its content moved back by ``shift`` (dy, dx) pixels.

    A cyclic shift by d multiplies bin k by ``exp(-2 pi i k.d / TILE)``; this undoes it, which lines
    every data bin up with its chips' signs.
    """
    ky = np.fft.fftfreq(TILE, 1.0 / TILE)[:, None]
    kx = np.arange(TILE // 2 + 1)[None, :]
    return spec * np.exp(2j * np.pi * (ky * shift[0] + kx * shift[1]) / TILE)


def soft_bits(aligned_spec: np.ndarray) -> np.ndarray:
    """The 306 soft code values (unit variance) of an aligned folded tile's spectrum (matched filter:
    each chip weighted by :func:`bin_weights`)."""
    values = aligned_spec[_DATA_ROWS, _DATA_COLS] * bin_weights(aligned_spec)[NUM_SYNC:]
    chips = np.concatenate([values.real, values.imag]) * CHIP_SIGN
    soft = np.bincount(CHIP_BIT, chips, minlength=payload.V2_CODED_BITS)
    return soft / max(float(np.std(soft)), 1e-12)
