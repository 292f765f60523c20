"""Procedural, natural-looking test video (no downloads): for watermark tests and benchmarks.

Flat colours flatter a watermark (nothing for a codec to throw away) and hide content bias, so these
frames mix what real footage has: smooth multi-scale noise (clouds, terrain), colour gradients,
fine texture, hard-edged shapes that move between frames and a slow global pan.
"""

from __future__ import annotations

import cv2
import numpy as np


def _noise_field(rng: np.random.Generator, height: int, width: int, octaves: int = 5) -> np.ndarray:
    """Fractal (1/f-like) noise in [0, 1]: random grids of growing resolution, upsampled and summed."""
    field = np.zeros((height, width), np.float32)
    amplitude, total = 1.0, 0.0
    for octave in range(octaves):
        cells = 2 ** (octave + 2)
        grid = rng.random((cells, int(cells * width / height) + 1), dtype=np.float32)
        field += amplitude * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amplitude
        amplitude *= 0.55
    field /= total
    return (field - field.min()) / max(float(np.ptp(field)), 1e-6)


def natural_video(
    num_frames: int = 49, height: int = 480, width: int = 720, *, seed: int = 0
) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames with texture, gradients and moving shapes.

    Deterministic for a given ``seed``; different seeds give different scenes.
    """
    rng = np.random.default_rng(seed)
    pad = 64  # room for the pan
    big_h, big_w = height + 2 * pad, width + 2 * pad
    base = np.stack([_noise_field(rng, big_h, big_w) for _ in range(3)], axis=-1)
    yy, xx = np.mgrid[0:big_h, 0:big_w].astype(np.float32)
    gradient = (xx / big_w)[..., None] * rng.uniform(0.2, 0.6, 3) + (yy / big_h)[..., None] * rng.uniform(
        0.2, 0.6, 3
    )
    # Fine texture, mostly luminance (shared by R, G, B) with some colour detail, as in camera footage.
    texture = rng.normal(0.0, 0.035, (big_h, big_w, 1)).astype(np.float32)
    texture = cv2.GaussianBlur(texture, (0, 0), 0.8)[..., None]
    colour = cv2.GaussianBlur(rng.normal(0.0, 0.03, (big_h, big_w, 3)).astype(np.float32), (0, 0), 1.2)
    texture = texture + colour
    scene = np.clip(0.55 * base + 0.35 * gradient + texture + 0.05, 0.0, 1.0)
    scene = (scene * 255).astype(np.float32)

    shapes = []
    for _ in range(6):
        shapes.append(
            {
                "kind": rng.choice(["circle", "rect"]),
                "pos": rng.uniform([0, 0], [width, height]),
                "vel": rng.uniform(-6, 6, 2),
                "size": rng.uniform(0.04, 0.14) * min(height, width),
                "colour": rng.uniform(20, 235, 3),
            }
        )
    pan = rng.uniform(-1.0, 1.0, 2)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        ox = int(np.clip(pad + pan[0] * t, 0, 2 * pad))
        oy = int(np.clip(pad + pan[1] * t, 0, 2 * pad))
        frame = scene[oy : oy + height, ox : ox + width].copy()
        for shape in shapes:
            x, y = (shape["pos"] + shape["vel"] * t).astype(int)
            size = int(shape["size"])
            colour = tuple(float(c) for c in shape["colour"])
            if shape["kind"] == "circle":
                cv2.circle(frame, (int(x), int(y)), size, colour, -1, lineType=cv2.LINE_AA)
            else:
                cv2.rectangle(frame, (int(x), int(y)), (int(x) + size, int(y) + size // 2), colour, -1)
        frames[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return frames
