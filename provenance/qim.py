"""invisible-watermark's ``dwtDctSvd`` block algorithm, vectorised over a whole frame.

The library (imwatermark 0.2.0, ``EmbedDwtDctSvd``) marks one channel like this: one-level Haar DWT,
the LL band cut into 4x4 blocks in raster order, block ``n`` carries bit ``n % len(bits)``: it takes the
DCT of the block, its largest singular value ``s0`` and moves it to ``(s0 // scale + 0.25 + 0.5*bit) *
scale``; the decoder reads ``bit = (s0 % scale) > scale / 2``. It loops over blocks in Python
(about 100 ms a frame). This module does the same maths on all blocks at once, so the library's own
``WatermarkDecoder(...).decode(frame, "dwtDctSvd", scales=[SCALE, 0, 0])`` reads our frames' bits.

Three deliberate differences in the *encoder* (the decoder's view is unchanged):

- The DCT is orthonormal, so a block and its DCT share singular values and the rank-1 change
  ``(t - s0) u v^T`` can be applied to the LL block directly.
- ``s0`` moves to the *nearest* value that decodes to the bit (any ``k``), not to one inside the same
  ``scale``-wide cell: mean squared change ``scale^2/12`` instead of ``~0.146 scale^2`` (+2.4 dB PSNR).
- The change goes into luma by adding the same amount to R, G and B (chroma untouched) and the result
  is rounded. The library converts through uint8 YUV, truncates (a -0.5 bias per pixel, which drifts
  ``s0`` down by about ``0.1 * scale``) and swaps the H and V detail bands on the way back (visible
  distortion that carries nothing). That downward drift plus the codec's own small luma offset is the
  "decodes as the exact inverse" quirk seen with luma scales; here the detector estimates any offset
  or gain (see ``watermark``) instead of relying on a zero drift.
"""

from __future__ import annotations

import numpy as np

BLOCK = 4  # the library's block size in the LL band (8x8 pixels)


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma as float32 (the Y of OpenCV's BGR2YUV, before its rounding)."""
    f = frames.astype(np.float32)
    return 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of 4x4 LL blocks the library uses for a ``height`` x ``width`` channel."""
    return (height // 4 * 2) // BLOCK, (width // 4 * 2) // BLOCK


def ll_blocks(y: np.ndarray) -> np.ndarray:
    """The 4x4 blocks of the Haar LL band of ``y`` (..., H, W) as (..., rows, cols, 4, 4)."""
    rows, cols = grid_shape(y.shape[-2], y.shape[-1])
    x = y[..., : rows * 8, : cols * 8]
    ll = (x[..., 0::2, 0::2] + x[..., 0::2, 1::2] + x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) * 0.5
    lead = ll.shape[:-2]
    blocks = ll.reshape(*lead, rows, BLOCK, cols, BLOCK)
    return np.moveaxis(blocks, -3, -2)


def _dominant_vector(gram: np.ndarray, iterations: int) -> np.ndarray:
    """Power iteration on every block's ``B^T B``: its dominant eigenvector, vectorised over blocks."""
    v = np.full(gram.shape[:-1], 0.5)
    for _ in range(iterations):
        v = np.einsum("...ij,...j->...i", gram, v)
        v /= np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-300)
    return v


def top_singular(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest singular value and its vectors ``(s0, u, v)`` of each 4x4 block (..., 4, 4).

    Power iteration on ``B^T B``, vectorised over all blocks: 3x faster than a batched LAPACK SVD.
    LL blocks are dominated by their mean, so ``s1/s0`` is small and 8 iterations reach float64
    precision; blocks that have not converged (near-equal singular values) fall back to the exact SVD.
    """
    blocks = blocks.astype(np.float64, copy=False)
    gram = np.einsum("...ki,...kj->...ij", blocks, blocks)
    v = _dominant_vector(gram, 8)
    bv = np.einsum("...ij,...j->...i", blocks, v)
    s0 = np.linalg.norm(bv, axis=-1)
    u = bv / np.maximum(s0[..., None], 1e-300)
    residual = np.linalg.norm(np.einsum("...ij,...j->...i", gram, v) - s0[..., None] ** 2 * v, axis=-1)
    bad = residual > 1e-9 * np.maximum(s0**2, 1.0)
    if bad.any():
        uu, ss, vt = np.linalg.svd(blocks[bad])
        s0[bad], u[bad], v[bad] = ss[..., 0], uu[..., :, 0], vt[..., 0, :]
    return s0, u, v


def top_singular_values(y: np.ndarray) -> np.ndarray:
    """``s0`` of every block of ``y`` (..., H, W): shape (..., rows, cols), for detection.

    Only the value is needed, not the vectors, so it is the Rayleigh quotient ``sqrt(v^T B^T B v)``
    after 4 power iterations: its error is quadratic in the vector's, so it agrees with
    :func:`top_singular` to ~1e-12 on natural frames (measured) at about 60% of the cost, and a block
    that has not converged still gets a value between its two largest singular values.
    """
    blocks = ll_blocks(y)
    if blocks.size == 0:
        return np.zeros(blocks.shape[:-2], np.float64)
    blocks = blocks.astype(np.float64, copy=False)
    gram = np.einsum("...ki,...kj->...ij", blocks, blocks)
    v = _dominant_vector(gram, 4)
    return np.sqrt(np.maximum(np.einsum("...i,...ij,...j->...", v, gram, v), 0.0))


def embed_frame(rgb: np.ndarray, bits: np.ndarray, scale: float) -> np.ndarray:
    """Mark one (H, W, 3) uint8 RGB frame's luma with ``bits`` tiled over the blocks; returns a new frame."""
    y = luma(rgb)
    blocks = ll_blocks(y).astype(np.float64)
    rows, cols = blocks.shape[:2]
    s0, u0, v0 = top_singular(blocks)
    bit = np.asarray(bits, np.float64)[np.arange(rows * cols) % len(bits)].reshape(rows, cols)
    centre = 0.25 + 0.5 * bit
    # The nearest s0 with the wanted bit; never below 0 (s0 is a norm).
    target = scale * (np.maximum(np.round(s0 / scale - centre), 0.0) + centre)
    delta_ll = (target - s0)[..., None, None] * u0[..., :, None] * v0[..., None, :]
    delta_ll = np.moveaxis(delta_ll, 1, 2).reshape(rows * BLOCK, cols * BLOCK)
    # A change d of one LL coefficient is d/2 on each of its 2x2 pixels (orthonormal Haar, no detail change).
    delta_y = np.repeat(np.repeat(delta_ll * 0.5, 2, axis=0), 2, axis=1)
    out = rgb.astype(np.float32)
    out[: delta_y.shape[0], : delta_y.shape[1]] += delta_y[..., None].astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
