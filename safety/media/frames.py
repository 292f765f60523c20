"""Decoding inputs into RGB frames, bounded in time and memory.

A video is sampled at ``fps`` frames a second plus its first and last frame, at most ``max_frames``
frames, each scaled down to at most ``max_side`` pixels; decoding stops after ``max_seconds`` of wall
time (a hostile file cannot hold a worker). Every failure is a :class:`MediaError` whose message says what
to fix.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

MAX_SIDE = 1024  # frames are scaled so their longer side is at most this: enough for faces and nudity


class MediaError(ValueError):
    """An image or video cannot be decoded or is out of bounds; the message says why."""


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """Any image array (uint8 or floats in [0, 1]; gray, RGB or RGBA) as a contiguous RGB uint8 frame,
    the form every check takes (e.g. scikit-image's test photographs)."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return np.ascontiguousarray(a[..., :3])


def spread(items: Sequence[T], n: int) -> list[T]:
    """At most ``n`` of ``items``, evenly spread over them, the first and the last kept."""
    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))]


def _shrink(img, max_side: int):
    """A PIL image scaled so its longer side is at most ``max_side``."""
    w, h = img.size
    if max(w, h) <= max_side:
        return img
    scale = max_side / max(w, h)
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))))


def load_image(data: bytes, *, max_side: int = MAX_SIDE, max_pixels: int = 40_000_000) -> np.ndarray:
    """An RGB ``uint8`` array (H x W x 3) from PNG/JPEG/WebP bytes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise MediaError(f"image is {img.width}x{img.height}: more than {max_pixels} pixels")
            img.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced size, cheaper than a resize
            return np.asarray(_shrink(img.convert("RGB"), max_side))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise MediaError(f"not a readable image: {exc}") from None


def sample_video(
    data: bytes,
    *,
    fps: float = 2.0,
    max_frames: int = 48,
    max_side: int = MAX_SIDE,
    max_seconds: float = 20.0,
) -> list[np.ndarray]:
    """Frames sampled from a video: ``fps`` a second, plus the first and the last; at most ``max_frames``
    (evenly thinned when there are more)."""
    import av

    started = time.monotonic()
    picked: list[tuple[float, np.ndarray]] = []
    last: tuple[float, np.ndarray] | None = None
    next_t = 0.0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise MediaError("the file has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if time.monotonic() - started > max_seconds:
                    raise MediaError(
                        f"video took more than {max_seconds:.0f} s to decode; send a shorter clip"
                    )
                t = float(frame.time) if frame.time is not None else len(picked) / max(fps, 1e-6)
                if not picked or t >= next_t:
                    picked.append((t, np.asarray(_shrink(frame.to_image(), max_side))))
                    next_t = t + 1.0 / fps
                    last = None
                else:
                    last = (t, frame)  # decoded lazily: only the very last one is converted
                if len(picked) > 4 * max_frames:
                    picked = picked[::2]  # bound memory on very long videos; thinned again below
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise MediaError(f"not a readable video: {exc}") from None
    if last is not None:
        picked.append((last[0], np.asarray(_shrink(last[1].to_image(), max_side))))
    if not picked:
        raise MediaError("the video has no frames")
    return [f for _, f in spread(picked, max_frames)]
