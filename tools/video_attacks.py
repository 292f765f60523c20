"""Attacks on a video and quality measures, shared by the watermark benchmark and its tests.

``bench/bench_watermark.py`` and ``tests/test_watermark.py`` both run frames through real encoders,
crops, rescales, rotations, flips, padding and letterboxing; written twice they drifted apart, so
both import them from here. Every function takes and returns ``(T, H, W, 3)`` uint8 RGB frames
(``psnr``/``ssim`` return floats) and is deterministic, except that a multi-threaded x264 encode
is not bit-identical from run to run (see :func:`encode`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

#: The 9:16 portrait window of a 720-pixel-wide frame (270 x 480 out of 720 x 480), as social apps crop.
PORTRAIT_COLUMNS = slice(225, 495)


def encode(frames: np.ndarray, codec: str = "libx264", crf: int = 23, fps: int = 8,
           threads: int = 0) -> np.ndarray:
    """Frames through a real encoder (PyAV, yuv420p) and back; odd sizes are trimmed to even.

    ``threads=1`` makes x264 deterministic (its threaded rate control is not: the same frames encoded
    twice differ at ~53 dB), which a quality comparison against the unmarked encode needs;
    0 = the encoder's choice.
    """
    import av

    from veriframe.provenance import media

    frames = np.ascontiguousarray(frames[:, : frames.shape[1] // 2 * 2, : frames.shape[2] // 2 * 2])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        with av.open(str(path), "w") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height = frames.shape[2], frames.shape[1]
            stream.pix_fmt = "yuv420p"
            options = {"crf": str(crf)}
            if codec == "libx265":
                options["x265-params"] = "log-level=error"
            if codec == "libvpx-vp9":
                options = {"crf": str(crf), "b": "0", "deadline": "realtime", "cpu-used": "8"}
            if threads:
                stream.thread_count = threads
                if codec == "libx264":
                    options["threads"] = str(threads)
            stream.options = options
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return media.decode_video(path)[0]


def service_reencode(frames: np.ndarray, crf: int, directory: Path, fps: int = 8) -> np.ndarray:
    """Frames through the service's own MP4 writer (``media.encode_mp4``, H.264) at ``crf`` and back;
    the file is left in ``directory``."""
    from veriframe.provenance import media

    path = Path(directory) / f"re-{crf}-{fps}.mp4"
    media.encode_mp4(frames, fps, path, crf=crf)
    return media.decode_video(path)[0]


def resize(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Every frame resized to ``width`` x ``height`` (area filter down, bicubic up)."""
    interp = cv2.INTER_AREA if width < frames.shape[2] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (width, height), interpolation=interp) for f in frames])


def rotate(frames: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation about the centre, same frame size, borders filled by reflection."""
    h, w = frames.shape[1:3]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return np.stack([cv2.warpAffine(f, matrix, (w, h), borderMode=cv2.BORDER_REFLECT) for f in frames])


def fit(frames: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scaled to fit inside ``width`` x ``height``, centred on black (pillar/letterbox)."""
    h, w = frames.shape[1:3]
    s = min(width / w, height / h)
    inner = resize(frames, round(w * s) // 2 * 2, round(h * s) // 2 * 2)
    out = np.zeros((len(frames), height, width, 3), np.uint8)
    top, left = (height - inner.shape[1]) // 2, (width - inner.shape[2]) // 2
    out[:, top : top + inner.shape[1], left : left + inner.shape[2]] = inner
    return out


def pad_width(frames: np.ndarray, width: int) -> np.ndarray:
    """Black bars left and right up to ``width`` (no scaling): e.g. 720x480 in 854x480."""
    out = np.zeros((len(frames), frames.shape[1], width, 3), np.uint8)
    left = (width - frames.shape[2]) // 2
    out[:, :, left : left + frames.shape[2]] = frames
    return out


def crop(frames: np.ndarray, area: float, cx: float = 0.5, cy: float = 0.5) -> np.ndarray:
    """A crop keeping ``area`` of the frame (same aspect ratio), placed at (cx, cy) in [0, 1] of the
    room left (0.5, 0.5 = centred). A view, not a copy."""
    h, w = frames.shape[1:3]
    ch, cw = int(h * area**0.5), int(w * area**0.5)
    top, left = int((h - ch) * cy), int((w - cw) * cx)
    return frames[:, top : top + ch, left : left + cw]


def hue(frames: np.ndarray, degrees: float) -> np.ndarray:
    """Hue rotated by ``degrees`` (OpenCV's 8-bit HSV: steps of 2 degrees)."""
    out = []
    for f in frames:
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + int(degrees / 2)) % 180
        out.append(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))
    return np.stack(out)


def social_geometry(frames: np.ndarray) -> np.ndarray:
    """The geometric part of a social re-upload of 720x480 video: the 9:16 portrait crop (270x480),
    scaled to 360 pixels wide (360x640). Encode the result to finish the pipeline."""
    return resize(np.ascontiguousarray(frames[:, :, PORTRAIT_COLUMNS]), 360, 640)


def stock_marked(frames: np.ndarray, bits: np.ndarray, method: str) -> np.ndarray:
    """Frames marked by the stock invisible-watermark library (``dwtDct`` or ``dwtDctSvd``) with
    ``bits``: a foreign mark that must not read as a Veriframe id."""
    from imwatermark import WatermarkEncoder

    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(bits))
    return np.stack([encoder.encode(np.ascontiguousarray(f[..., ::-1]), method)[..., ::-1] for f in frames])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB over all pixels and channels (peak 255)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of luma (Gaussian window 1.5, the usual constants), averaged over frames."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(z, (11, 11), 1.5)

    values = []
    for x, y in zip(a, b, strict=True):
        x = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64)
        y = cv2.cvtColor(y, cv2.COLOR_RGB2GRAY).astype(np.float64)
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        values.append(m.mean())
    return float(np.mean(values))
