"""How far a lossy video is from the exact one: PSNR and SSIM over all frames (uint8 RGB).

With random weights the frames are structured noise, so these figures measure how much a speed-up
perturbs the computation, not how a trained model's video would look: a trained model's outputs
are smoother, and the same perturbation usually costs less PSNR there. Compare options with each
other on the same seed, never with published PSNR figures.
"""

from __future__ import annotations

import numpy as np


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB over the whole video (inf when identical)."""
    mse = float(np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean structural similarity (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) over frames and
    channels of (T, H, W, 3) uint8 videos; 1.0 when identical."""
    import torch
    import torch.nn.functional as F

    def planes(video: np.ndarray) -> torch.Tensor:  # (T*3, 1, H, W) float64
        t = torch.from_numpy(video.astype(np.float64)).permute(0, 3, 1, 2)
        return t.reshape(-1, 1, *t.shape[-2:])

    x, y = planes(reference), planes(test)
    coords = torch.arange(11, dtype=torch.float64) - 5
    gauss = torch.exp(-(coords**2) / (2 * 1.5**2))
    gauss = gauss / gauss.sum()
    window = (gauss[:, None] * gauss[None, :])[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window)  # "valid" windows only, as in the reference implementation

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    score = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(score.mean())


def compare(reference: np.ndarray, test: np.ndarray) -> dict[str, float | int | bool]:
    """The figures the benchmark and the docs report for one option against the exact video
    (``psnr_db`` is None for identical videos: JSON has no infinity)."""
    diff = np.abs(reference.astype(np.int16) - test.astype(np.int16))
    identical = not diff.any()
    return {
        "identical": bool(identical),
        "max_abs_diff": int(diff.max()),
        "mean_abs_diff": round(float(diff.mean()), 4),
        "psnr_db": None if identical else round(psnr(reference, test), 2),
        "ssim": round(ssim(reference, test), 4),
    }
