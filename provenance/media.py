"""Video and image I/O: frames (uint8 RGB numpy arrays) to and from H.264 MP4 and PNG/JPEG files.

Pure PyAV + Pillow + numpy (no torch), so the provenance layer and the verifier can use it alone.

Frame arrays everywhere are ``uint8`` RGB: a video is ``(T, H, W, 3)``, an image ``(H, W, 3)``.
Input that cannot be read, or that is bigger than the caller allows, raises :class:`MediaError`
with a message that says what was wrong; nothing is silently resized, cropped or cut.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

Source = str | Path | bytes | bytearray | memoryview | BinaryIO

#: Image formats accepted as generation input (a small, well-tested decoder surface).
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")

#: x264 CRF that is visually lossless for typical content (the x264 docs put it at ~17-18).
DEFAULT_CRF = 17
#: Frames the verifier samples from a video to detect the watermark (evenly spaced, decoded as a stream: a
#: video of any length holds at most this many in memory). The service's release check reads the same.
VERIFY_FRAMES = 64


class MediaError(ValueError):
    """Unreadable, malformed or oversized video/image input (the message says which and why)."""


def _open_source(source: Source) -> tuple[str | BinaryIO, str]:
    """A path string or a binary stream for the decoders, plus a short name for error messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), f"<{len(source)} bytes>"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise MediaError(f"{path}: no such file")
        return str(path), str(path)
    return source, getattr(source, "name", "<stream>")


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    if frames.shape[0] == 0:
        raise ValueError("frames is empty (T = 0)")
    return frames


# --------------------------------------------------------------------------------------- video


def encode_mp4(
    frames: np.ndarray,
    fps: int,
    path: str | Path | BinaryIO,
    *,
    crf: int = DEFAULT_CRF,
    preset: str = "medium",
) -> None:
    """Encode ``frames`` (T, H, W, 3 uint8 RGB) as an H.264 yuv420p MP4 at ``fps`` frames per second.

    The ``moov`` atom is moved to the front (faststart) so players can stream the file, and the file
    is complete before anything signs it. ``crf`` 0-51 (lower is better; 17 is visually lossless).
    yuv420p halves chroma resolution, so width and height must be even.
    """
    frames = _check_frames(frames)
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)) or not 1 <= fps <= 240:
        raise ValueError(f"fps must be an integer in 1..240, got {fps!r}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    _, height, width, _ = frames.shape
    if width % 2 or height % 2:
        raise ValueError(f"H.264 yuv420p needs an even width and height, got {width}x{height}")

    target = str(path) if isinstance(path, Path) else path
    with av.open(target, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(int(fps), 1))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, int(fps))
        stream.options = {"crf": str(crf), "preset": preset}
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder's look-ahead
            container.mux(packet)


def _open_video(source: Source) -> tuple[av.container.InputContainer, av.VideoStream, str, float]:
    """An open container, its first video stream, a name for messages and the frame rate."""
    opened, name = _open_source(source)
    try:
        container = av.open(opened, mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"{name}: not a readable video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(f"{name}: contains no video stream")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        container.close()
        raise MediaError(f"{name}: video has no frame rate")
    return container, stream, name, float(rate)


def _checked_frames(
    container: av.container.InputContainer, stream: av.VideoStream, name: str, max_pixels: int | None
) -> Iterator[av.VideoFrame]:
    """The stream's decoded frames, one at a time, refusing oversized or size-changing ones."""
    if stream.codec_context is None:  # a cut-short file whose stream has no usable codec setup
        raise MediaError(f"{name}: the video stream cannot be decoded (no codec parameters)")
    width, height = stream.codec_context.width, stream.codec_context.height
    if max_pixels is not None and width * height > max_pixels:
        raise MediaError(f"{name}: video is {width}x{height}, larger than the {max_pixels}-pixel limit")
    first = True
    try:
        for frame in container.decode(stream):
            if (frame.width, frame.height) != (width, height) and not first:
                raise MediaError(
                    f"{name}: frame size changes mid-stream ({width}x{height} to "
                    f"{frame.width}x{frame.height})"
                )
            if max_pixels is not None and frame.width * frame.height > max_pixels:
                raise MediaError(
                    f"{name}: video is {frame.width}x{frame.height}, larger than the "
                    f"{max_pixels}-pixel limit"
                )
            width, height, first = frame.width, frame.height, False
            yield frame
    except av.FFmpegError as exc:
        raise MediaError(f"{name}: corrupt video data ({exc})") from exc


def decode_video(
    path_or_bytes: Source,
    *,
    max_frames: int | None = None,
    max_pixels: int | None = None,
) -> tuple[np.ndarray, float]:
    """Decode the first video stream to ``(frames (T, H, W, 3) uint8 RGB, fps)``.

    ``max_pixels`` bounds width x height and ``max_frames`` the frame count: a larger input raises
    :class:`MediaError` (it is never cut short silently). Decoding stops as soon as a limit is passed,
    so an oversized upload costs little memory. To look at a long video without holding all of it,
    use :func:`sample_frames`.
    """
    container, stream, name, rate = _open_video(path_or_bytes)
    decoded: list[np.ndarray] = []
    with container:
        for frame in _checked_frames(container, stream, name, max_pixels):
            if max_frames is not None and len(decoded) >= max_frames:
                raise MediaError(f"{name}: video has more than the {max_frames}-frame limit")
            decoded.append(frame.to_ndarray(format="rgb24"))
    if not decoded:
        raise MediaError(f"{name}: video has no decodable frames")
    return np.stack(decoded), rate


def count_frames(path_or_bytes: Source) -> int:
    """The number of frames in the first video stream, from the container's index when it has one,
    else by reading (not decoding) every packet: cheap even for long videos."""
    container, stream, name, _ = _open_video(path_or_bytes)
    with container:
        if stream.frames:
            return int(stream.frames)
        try:
            return sum(1 for packet in container.demux(stream) if packet.size)
        except av.FFmpegError as exc:
            raise MediaError(f"{name}: corrupt video data ({exc})") from exc


def sample_frames(
    path_or_bytes: Source, n: int, *, max_pixels: int | None = None
) -> tuple[np.ndarray, float, int]:
    """``n`` evenly spaced frames (first and last included; every frame when there are fewer) as
    ``(frames (k, H, W, 3) uint8 RGB, fps, total frames)``.

    The video is decoded as a stream and only the chosen frames are kept, so memory is bounded by
    ``n`` frames whatever the video's length. The frame count comes first (:func:`count_frames`);
    a file whose decodable frames fall short of its index yields fewer than ``n`` frames.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rewind = None if isinstance(path_or_bytes, (str, Path, bytes, bytearray, memoryview)) else path_or_bytes
    start = rewind.tell() if rewind is not None else 0
    total = count_frames(path_or_bytes)
    if rewind is not None:
        rewind.seek(start)  # a stream is read twice: count, then decode
    wanted = set(np.linspace(0, total - 1, min(n, total)).round().astype(int).tolist()) if total else set()
    container, stream, name, rate = _open_video(path_or_bytes)
    kept: list[np.ndarray] = []
    with container:
        for index, frame in enumerate(_checked_frames(container, stream, name, max_pixels)):
            if index in wanted:
                kept.append(frame.to_ndarray(format="rgb24"))
                if len(kept) == len(wanted):
                    break
    if not kept:
        raise MediaError(f"{name}: video has no decodable frames")
    return np.stack(kept), rate, total


# --------------------------------------------------------------------------------------- images


def read_image(path_or_bytes: Source, *, max_pixels: int | None = None) -> np.ndarray:
    """Read a PNG, JPEG or WebP image as ``(H, W, 3)`` uint8 RGB.

    The EXIF orientation is applied (that is how the image is meant to be seen); grey, palette and
    alpha images are converted to RGB (alpha is dropped). Size is checked from the header before
    pixels are decoded.
    """
    source, name = _open_source(path_or_bytes)
    try:
        with Image.open(source, formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise MediaError(
                    f"{name}: image is {width}x{height}, larger than the {max_pixels}-pixel limit"
                )
            image.load()
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except UnidentifiedImageError as exc:
        raise MediaError(f"{name}: not a readable image (accepted: {', '.join(IMAGE_FORMATS)})") from exc
    except Image.DecompressionBombError as exc:
        raise MediaError(f"{name}: image too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, MediaError):
            raise
        raise MediaError(f"{name}: corrupt image data ({exc})") from exc
    return np.asarray(rgb, dtype=np.uint8)


#: zlib level for exported PNG frames: level 1 writes a 720x480 frame several times faster than
#: Pillow's default 6 for a file ~10-20% larger (still lossless); frame export is on the job's path.
PNG_COMPRESS_LEVEL = 1


def write_png(frame: np.ndarray, path: str | Path | BinaryIO) -> None:
    """Write one ``(H, W, 3)`` uint8 RGB frame as a PNG (lossless, zlib level ``PNG_COMPRESS_LEVEL``)."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be (H, W, 3) uint8, got {frame.shape} {frame.dtype}")
    Image.fromarray(frame).save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def write_pngs(frames: np.ndarray | Sequence[np.ndarray], dir: str | Path, stem: str = "frame") -> list[Path]:
    """Write each frame as ``DIR/STEM_0000.png`` ... (zero-padded, sorts in frame order)."""
    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(frames) - 1)))
    paths = []
    for index, frame in enumerate(frames):
        path = out / f"{stem}_{index:0{width}d}.png"
        write_png(frame, path)
        paths.append(path)
    return paths
