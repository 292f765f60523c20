"""Video/image I/O: real PyAV H.264 encode/decode and Pillow images, no mocks."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from veriframe.provenance.media import (
    MediaError,
    count_frames,
    decode_video,
    encode_mp4,
    read_image,
    sample_frames,
    write_png,
    write_pngs,
)


def _moving_gradient(frames: int, height: int, width: int) -> np.ndarray:
    """Smooth, moving content (compresses like real video, so the round trip is close to lossless)."""
    y, x = np.mgrid[0:height, 0:width]
    video = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        video[t, ..., 0] = (x * 255 // width + 4 * t) % 256
        video[t, ..., 1] = y * 255 // height
        video[t, ..., 2] = 128 + 60 * np.sin((x + y + 3 * t) / 15.0)
    return video


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse else float("inf")


@pytest.mark.parametrize(("frames", "fps", "height", "width"), [(49, 8, 96, 144), (17, 16, 64, 80)])
def test_mp4_round_trip_keeps_count_fps_size_duration(tmp_path, frames, fps, height, width):
    video = _moving_gradient(frames, height, width)
    path = tmp_path / "out.mp4"
    encode_mp4(video, fps, path)

    decoded, decoded_fps = decode_video(path)
    assert decoded.shape == video.shape
    assert decoded.dtype == np.uint8
    assert decoded_fps == fps
    # yuv420p halves chroma resolution (~34 dB on these saturated gradients even at CRF 0); luma is kept
    assert _psnr(decoded, video) > 30
    assert _psnr(decoded.mean(-1), video.mean(-1)) > 40

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        # the edit list stores the duration in the movie timescale (ms), hence the 1 ms tolerance
        assert float(stream.duration * stream.time_base) == pytest.approx(frames / fps, abs=1e-3)
        assert container.duration / 1e6 == pytest.approx(frames / fps, abs=1e-3)
    # faststart: the moov atom comes before the media data
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_decode_from_bytes_and_crf_changes_size(tmp_path):
    video = _moving_gradient(9, 64, 64)
    lossless, lossy = tmp_path / "a.mp4", tmp_path / "b.mp4"
    encode_mp4(video, 8, lossless, crf=0)
    encode_mp4(video, 8, lossy, crf=40)
    assert lossy.stat().st_size < lossless.stat().st_size
    frames, fps = decode_video(lossless.read_bytes())
    assert frames.shape == video.shape and fps == 8
    assert _psnr(frames, video) > _psnr(decode_video(lossy)[0], video)
    default = tmp_path / "c.mp4"
    encode_mp4(video, 8, default)  # CRF 17: within 1 dB of the lossless encode's ceiling
    assert _psnr(decode_video(default)[0], video) > _psnr(frames, video) - 1.0


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        (np.zeros((3, 63, 64, 3), np.uint8), "even width and height"),
        (np.zeros((3, 64, 64), np.uint8), "shape"),
        (np.zeros((3, 64, 64, 3), np.float32), "uint8"),
        (np.zeros((0, 64, 64, 3), np.uint8), "empty"),
    ],
)
def test_encode_rejects_bad_frames(tmp_path, frames, message):
    with pytest.raises(ValueError, match=message):
        encode_mp4(frames, 8, tmp_path / "x.mp4")


def test_decode_rejects_garbage_truncated_and_missing(tmp_path):
    with pytest.raises(MediaError, match="not a readable video"):
        decode_video(b"this is not a video at all" * 10)
    path = tmp_path / "v.mp4"
    encode_mp4(_moving_gradient(9, 64, 64), 8, path)
    data = path.read_bytes()
    with pytest.raises(MediaError):
        decode_video(data[: len(data) // 3])  # moov survives (faststart) but the media data is cut
    with pytest.raises(MediaError, match="no such file"):
        decode_video(tmp_path / "missing.mp4")


def test_decode_rejects_oversized_video(tmp_path):
    path = tmp_path / "v.mp4"
    encode_mp4(_moving_gradient(9, 64, 96), 8, path)
    with pytest.raises(MediaError, match="96x64, larger than the 6000-pixel limit"):
        decode_video(path, max_pixels=6000)
    with pytest.raises(MediaError, match="more than the 8-frame limit"):
        decode_video(path, max_frames=8)
    frames, _ = decode_video(path, max_frames=9, max_pixels=64 * 96)
    assert len(frames) == 9


def _encode_streamed(path, n: int, height: int, width: int, container: str = "mp4") -> None:
    """An n-frame H.264 video written one frame at a time (a long one never sits in memory whole)."""
    with av.open(str(path), mode="w", format=container) as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        for i in range(n):
            frame[...] = i % 256
            frame[:, : i % width] = 255 - i % 256  # every frame differs from its neighbours
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize("container", ["mp4", "matroska"])  # MP4 indexes its frames, Matroska does not
def test_sample_frames_picks_evenly_spaced_frames(tmp_path, container):
    path = tmp_path / "v.video"
    _encode_streamed(path, 50, 32, 48, container)
    everything, fps = decode_video(path)
    assert count_frames(path) == len(everything) == 50
    sampled, sampled_fps, total = sample_frames(path, 16)
    wanted = np.linspace(0, 49, 16).round().astype(int)
    assert total == 50 and sampled_fps == fps and np.array_equal(sampled, everything[wanted])
    with path.open("rb") as stream:  # an open stream is read twice (count, decode) and works too
        assert np.array_equal(sample_frames(stream, 16)[0], sampled)
    few, _, _ = sample_frames(path.read_bytes(), 100)  # more asked for than there are: every frame
    assert np.array_equal(few, everything)
    with pytest.raises(MediaError, match="larger than the 1000-pixel limit"):
        sample_frames(path, 4, max_pixels=1000)
    with pytest.raises(MediaError, match="not a readable video"):
        sample_frames(b"not a video" * 20, 4)


def test_sample_frames_memory_is_bounded_by_the_sample(tmp_path):
    """2,100 frames (more than the old 2,000-frame verify limit): only the sample is ever held."""
    import tracemalloc

    path = tmp_path / "long.mp4"
    _encode_streamed(path, 2100, 96, 96)
    frame_bytes = 96 * 96 * 3
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        frames, _, total = sample_frames(path, 64)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 2100 and frames.shape == (64, 96, 96, 3)
    assert frames[-1].mean() != frames[0].mean()  # the last frame is the video's last, not its first
    assert peak < (64 + 16) * frame_bytes, f"peak {peak} bytes: more than the sample ({64 * frame_bytes})"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_read_image_formats(tmp_path, fmt):
    image = _moving_gradient(1, 48, 64)[0]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, quality=95)
    from_bytes = read_image(buffer.getvalue())
    assert from_bytes.shape == (48, 64, 3) and from_bytes.dtype == np.uint8
    if fmt == "PNG":
        assert np.array_equal(from_bytes, image)
    else:
        assert _psnr(from_bytes, image) > 30
    path = tmp_path / f"img.{fmt.lower()}"
    path.write_bytes(buffer.getvalue())
    assert np.array_equal(read_image(path), from_bytes)


def test_read_image_converts_modes_and_applies_exif_orientation():
    buffer = io.BytesIO()
    Image.new("LA", (10, 4), (200, 255)).save(buffer, format="PNG")
    assert read_image(buffer.getvalue()).shape == (4, 10, 3)
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.new("RGB", (10, 4)).save(rotated, format="JPEG", exif=exif)
    assert read_image(rotated.getvalue()).shape == (10, 4, 3)


def test_read_image_rejects_bad_input(tmp_path):
    with pytest.raises(MediaError, match="not a readable image"):
        read_image(b"GIF89a not really")
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    with pytest.raises(MediaError, match="not a readable image"):
        read_image(gif.getvalue())  # a real image, but not an accepted format
    png = io.BytesIO()
    Image.fromarray(_moving_gradient(1, 64, 64)[0]).save(png, format="PNG")
    with pytest.raises(MediaError, match="corrupt image data"):
        read_image(png.getvalue()[:200])
    with pytest.raises(MediaError, match="64x64, larger than the 1000-pixel limit"):
        read_image(png.getvalue(), max_pixels=1000)
    with pytest.raises(MediaError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_write_png_and_pngs_round_trip(tmp_path):
    video = _moving_gradient(11, 32, 48)
    paths = write_pngs(video, tmp_path / "frames", stem="f")
    assert [p.name for p in paths] == [f"f_{i:04d}.png" for i in range(11)]
    assert all(np.array_equal(read_image(p), frame) for p, frame in zip(paths, video, strict=True))
    write_png(video[3], tmp_path / "one.png")
    assert np.array_equal(read_image(tmp_path / "one.png"), video[3])
    with pytest.raises(ValueError, match="uint8"):
        write_png(video[0].astype(np.float32), tmp_path / "bad.png")
