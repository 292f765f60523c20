"""The invisible watermark: payload coding, library compatibility, robustness, false positives."""

from __future__ import annotations

import numpy as np
import pytest

from veriframe.provenance import payload, watermark
from veriframe.provenance.ids import format_id, new_provenance_id, parse_id
from veriframe.provenance.synthetic import natural_video


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _reencode(frames: np.ndarray, crf: int, tmp_path, fps: int = 8) -> np.ndarray:
    from veriframe.provenance import media

    path = tmp_path / f"re-{crf}-{fps}.mp4"
    media.encode_mp4(frames, fps, path, crf=crf)
    return media.decode_video(path)[0]


# ------------------------------------------------------------------ ids and payload


def test_ids_are_random_64_bit_and_round_trip():
    ids = {new_provenance_id() for _ in range(200)}
    assert len(ids) == 200 and all(0 <= i < 1 << 64 for i in ids)
    for i in [*list(ids)[:20], 0, (1 << 64) - 1]:
        assert parse_id(format_id(i)) == i and len(format_id(i)) == 16
    with pytest.raises(ValueError):
        format_id(1 << 64)
    with pytest.raises(ValueError):
        parse_id("xyz")


def test_payload_corrects_errors_and_rejects_garbage():
    rng = np.random.default_rng(1)
    pid = new_provenance_id()
    soft = 2.0 * payload.encode_id(pid).astype(np.float64) - 1.0
    assert payload.decode_soft(soft).provenance_id == pid
    # Up to 8 weak (low-reliability) wrong bits are repaired by erasure decoding.
    noisy = soft.copy()
    flip = rng.choice(payload.CODEWORD_BITS, 8, replace=False)
    noisy[flip] *= -0.1
    decoded = payload.decode_soft(noisy)
    assert decoded is not None and decoded.provenance_id == pid and decoded.bit_errors == 8
    # Random soft vectors never decode (each would need RS success and a 32-bit tag match).
    assert all(payload.decode_soft(rng.normal(size=payload.CODEWORD_BITS)) is None for _ in range(500))
    # Flat reads (all 0 / all 1) are not codewords thanks to the whitening mask.
    assert payload.decode_soft(np.ones(payload.CODEWORD_BITS)) is None
    assert payload.decode_soft(-np.ones(payload.CODEWORD_BITS)) is None


def test_false_positive_bound_is_below_one_in_a_million():
    bound = watermark.MAX_DECODES * payload.MAX_CANDIDATES_PER_DECODE * 2.0**-32
    assert bound <= 1e-6


def test_frame_keys_shuffle_bits_differently():
    pid = new_provenance_id()
    frames = [payload.frame_bits(pid, t) for t in range(payload.NUM_KEYS)]
    # Same multiset of bits, different arrangement in every frame of a key cycle.
    assert len({f.tobytes() for f in frames}) == payload.NUM_KEYS
    assert np.array_equal(payload.frame_bits(pid, 0), payload.frame_bits(pid, payload.NUM_KEYS))


# ------------------------------------------------------------------ embedding


@pytest.fixture(scope="module")
def marked_720():
    """16 natural-looking 720x480 frames, marked (most attacks need the real output size)."""
    frames = natural_video(16, 480, 720, seed=11)
    pid = new_provenance_id()
    return frames, watermark.embed_frames(frames, pid), pid


def test_embedding_is_invisible_enough_and_readable_by_the_library(marked_720):
    from imwatermark import WatermarkDecoder

    frames, marked, pid = marked_720
    assert _psnr(marked, frames) >= 38.0
    decoder = WatermarkDecoder("bits", payload.EMBED_BITS)
    for t in (0, 5):
        bits = decoder.decode(np.ascontiguousarray(marked[t][..., ::-1]), "dwtDctSvd",
                              scales=[watermark.SCALE, 0, 0])
        assert np.array_equal(np.asarray(bits, np.uint8), payload.frame_bits(pid, t))


def test_clean_detection(marked_720):
    _, marked, pid = marked_720
    result = watermark.detect_frames(marked)
    assert result.found and result.provenance_id == pid and result.confidence == 1.0


@pytest.mark.parametrize("crf", [23, 28])
def test_survives_h264_reencode(marked_720, crf, tmp_path):
    _, marked, pid = marked_720
    result = watermark.detect_frames(_reencode(marked, crf, tmp_path))
    assert result.found and result.provenance_id == pid


def test_survives_downscale_and_back(marked_720):
    import cv2

    _, marked, pid = marked_720
    attacked = np.stack([cv2.resize(cv2.resize(f, (360, 240), interpolation=cv2.INTER_AREA), (720, 480),
                                    interpolation=cv2.INTER_CUBIC) for f in marked])
    assert watermark.detect_frames(attacked).provenance_id == pid
    # Kept at half size: the detector re-registers by resizing to the standard size.
    small = np.stack([cv2.resize(f, (360, 240), interpolation=cv2.INTER_AREA) for f in marked])
    result = watermark.detect_frames(small)
    assert result.provenance_id == pid and "rescaled" in result.registration


@pytest.mark.parametrize("gain", [0.9, 1.1])
def test_survives_brightness_change(marked_720, gain):
    _, marked, pid = marked_720
    attacked = np.clip(marked.astype(np.float64) * gain, 0, 255).astype(np.uint8)
    assert watermark.detect_frames(attacked).provenance_id == pid


def test_survives_crop_and_reencode(marked_720, tmp_path):
    _, marked, pid = marked_720
    cropped = np.ascontiguousarray(marked[:, 19 : 19 + 432, 37 : 37 + 648])  # 10% off, odd offsets
    result = watermark.detect_frames(_reencode(cropped, 23, tmp_path))
    assert result.provenance_id == pid and result.registration.startswith("crop")


def test_survives_large_flat_padding(marked_720, tmp_path):
    # Only a 500x300 window of the picture kept, pasted on a grey canvas (flat areas must not outvote it).
    _, marked, pid = marked_720
    canvas = np.full_like(marked, 128)
    canvas[:, 50:350, 37:537] = marked[:, 50:350, 37:537]
    assert watermark.detect_frames(_reencode(canvas, 23, tmp_path)).provenance_id == pid


def test_survives_frame_rate_change(marked_720, tmp_path):
    _, marked, pid = marked_720
    # Drop every third frame, duplicate others, reorder the tail: like a 8 -> 6 fps conversion.
    index = [t for t in range(len(marked)) if t % 3] + [4, 4, 9]
    result = watermark.detect_frames(_reencode(marked[index], 23, tmp_path, fps=6))
    assert result.provenance_id == pid
    # A single frame (e.g. an exported still) still carries the id.
    assert watermark.detect_frames(marked[7]).provenance_id == pid


def test_unmarked_videos_yield_nothing(tmp_path, monkeypatch):
    calls = []
    real_decode = payload.decode_soft

    def counting_decode(soft):
        calls.append(1)
        return real_decode(soft)

    monkeypatch.setattr(payload, "decode_soft", counting_decode)
    found = []
    for seed in range(40):
        frames = natural_video(3, 256, 256, seed=1000 + seed)
        result = watermark.detect_frames(frames)
        if result.found:
            found.append((seed, result))
    rng = np.random.default_rng(5)
    for extra in (np.zeros((3, 256, 256, 3), np.uint8), np.full((3, 256, 256, 3), 255, np.uint8),
                  rng.integers(0, 256, (3, 256, 256, 3), dtype=np.uint8)):
        found += [r for r in [watermark.detect_frames(extra)] if r.found]
    # Sizes that trigger the rescale and crop searches.
    for seed, (h, w) in enumerate([(240, 360), (432, 648)]):
        calls.clear()
        result = watermark.detect_frames(_reencode(natural_video(4, h, w, seed=77 + seed), 23, tmp_path))
        if result.found:
            found.append(result)
        # The false-positive bound counts on this: every path together decodes at most MAX_DECODES.
        assert 2 <= len(calls) <= watermark.MAX_DECODES
    assert found == []


def test_another_id_reads_back_as_itself(marked_720):
    frames, _, pid = marked_720
    other = watermark.embed_frames(frames[:4], pid ^ 1)
    assert watermark.detect_frames(other).provenance_id == pid ^ 1


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="too small"):
        watermark.embed_frames(np.zeros((2, 100, 100, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="uint8"):
        watermark.embed_frames(np.zeros((2, 300, 300, 3), np.float32), 1)
    tiny = watermark.detect_frames(np.zeros((2, 100, 100, 3), np.uint8))
    assert not tiny.found and "too small" in tiny.registration
