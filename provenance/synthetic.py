"""Procedural, natural-looking test video (no downloads): for watermark tests and benchmarks.

Flat colours flatter a watermark (nothing for a codec to throw away) and hide content bias, so these
frames mix what real footage has: smooth multi-scale noise (clouds, terrain), colour gradients,
fine texture, hard-edged shapes that move between frames and a slow global pan.

:func:`content_video` adds the hard cases for an invisible mark, by name (:data:`CONTENTS`):
``textured`` (the above), ``sky`` (a smooth blue gradient with soft clouds: almost nothing to hide a
mark in), ``night`` (dark, low contrast, a few lights) and ``motion`` (a fast pan and fast shapes:
every frame differs, which costs a codec most).
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


CONTENTS = ("textured", "sky", "night", "motion")


def _sky(num_frames: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    pad = 48
    big_h, big_w = height + pad, width + 2 * pad
    yy = np.linspace(0.0, 1.0, big_h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([40, 90, 190], np.float32), np.array([150, 190, 235], np.float32)
    sky = top + (bottom - top) * yy
    clouds = _noise_field(rng, big_h, big_w, octaves=3)[..., None]
    sky = sky + 60.0 * np.clip(clouds - 0.55, 0.0, 1.0) * (255.0 - sky) / 255.0
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        ox = int(pad + round(0.7 * t)) % (2 * pad)
        frames[t] = np.clip(sky[:height, ox : ox + width], 0, 255).astype(np.uint8)
    return frames


def _night(num_frames: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    base = natural_video(num_frames, height, width, seed=int(rng.integers(1 << 31))).astype(np.float32)
    dark = 4.0 + base * 0.14  # luma about 4-40
    lights = rng.uniform([0, 0], [width, height], (8, 2))
    for t in range(num_frames):
        frame = dark[t]
        for x, y in lights:
            cv2.circle(frame, (int(x + 0.5 * t), int(y)), 3, (250, 230, 170), -1, lineType=cv2.LINE_AA)
        dark[t] = cv2.GaussianBlur(frame, (0, 0), 0.7)
    return np.clip(dark, 0, 255).astype(np.uint8)


def _motion(num_frames: int, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    pad = 24 * num_frames + 16
    wide = natural_video(1, height, width + pad, seed=int(rng.integers(1 << 31)))[0]
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        frame = wide[:, 24 * t : 24 * t + width].copy()
        for k in range(4):
            x = int((width * (0.2 + 0.2 * k) + 37 * t * (1 if k % 2 else -1)) % width)
            y = int(height * (0.25 + 0.15 * k) + 20 * np.sin(t / 3 + k))
            colour = tuple(float(c) for c in rng.uniform(30, 230, 3))
            cv2.circle(frame, (x, y), int(0.08 * height), colour, -1, lineType=cv2.LINE_AA)
        frames[t] = frame
    return frames


def content_video(kind: str, num_frames: int = 49, height: int = 480, width: int = 720, *,
                  seed: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 RGB frames of one of :data:`CONTENTS` (deterministic per ``seed``)."""
    if kind == "textured":
        return natural_video(num_frames, height, width, seed=seed)
    makers = {"sky": _sky, "night": _night, "motion": _motion}
    if kind not in makers:
        raise ValueError(f"unknown content {kind!r}; choose one of {', '.join(CONTENTS)}")
    return makers[kind](num_frames, height, width, np.random.default_rng(seed))
