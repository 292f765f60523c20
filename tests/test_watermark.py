"""The invisible watermark: payload coding, library compatibility, robustness, false positives."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tools.video_attacks import (
    fit,
    pad_width,
    psnr,
    resize,
    rotate,
    social_geometry,
    stock_marked,
)
from tools.video_attacks import service_reencode as reencode
from veriframe.provenance import parallel, payload, watermark, watermark_v1, watermark_v2
from veriframe.provenance.ids import format_id, new_provenance_id, parse_id
from veriframe.provenance.synthetic import content_video, natural_video

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


def test_v2_code_corrects_noise_and_rejects_garbage():
    rng = np.random.default_rng(2)
    pid = 0x0DDBA11CAFE00042
    clean = 2.0 * payload.encode_id_v2(pid).astype(np.float64) - 1.0
    assert payload.decode_soft_v2(clean).provenance_id == pid
    # A soft-decision Viterbi decoder: ~10% of the hard decisions wrong is still decoded.
    noisy = clean + rng.normal(0.0, 0.8, clean.size)
    assert np.mean((noisy > 0) != (clean > 0)) > 0.05
    decoded = payload.decode_soft_v2(noisy)
    assert decoded is not None and decoded.provenance_id == pid and decoded.bit_errors > 15
    assert all(payload.decode_soft_v2(rng.normal(size=payload.V2_CODED_BITS)) is None for _ in range(300))
    assert payload.decode_soft_v2(np.ones(payload.V2_CODED_BITS)) is None
    assert payload.decode_soft_v2(-np.ones(payload.V2_CODED_BITS)) is None
    # A v1 codeword is not a v2 one (own tag personalisation), and vice versa.
    assert payload.decode_soft(2.0 * payload.encode_id(pid) - 1.0).provenance_id == pid


def test_false_positive_bound_is_below_one_in_a_million():
    assert watermark.MAX_CANDIDATES == (watermark_v2.MAX_DECODES
                                        + watermark_v1.MAX_DECODES * payload.MAX_CANDIDATES_PER_DECODE)
    assert watermark.FALSE_POSITIVE_BOUND <= 1e-6


# ------------------------------------------------------------------ embedding


@pytest.fixture(scope="module")
def marked_720():
    """6 natural-looking 720x480 frames, marked (the service's real output size)."""
    frames = natural_video(6, 480, 720, seed=11)
    pid = new_provenance_id()
    return frames, watermark.embed_frames(frames, pid), pid


def _boundary_ratio(delta: np.ndarray) -> float:
    """Mean |step| of ``delta`` across 8-pixel block boundaries over that inside blocks (1 = no blocks)."""
    steps = np.abs(np.diff(delta.astype(np.float64), axis=1))
    at_edge = steps[:, 7::8].mean()
    inside = np.delete(steps, np.s_[7::8], axis=1).mean()
    return float(at_edge / max(inside, 1e-9))


def test_mark_is_added_as_the_rounded_luma_change_saturated_to_uint8():
    # The embedder adds the positive and negative parts of the change with uint8 saturation (faster
    # than one int16 addition): the result must be that addition, clipped at 0 and 255, on R, G and B.
    from veriframe.provenance import watermark_embed

    rng = np.random.default_rng(14)
    rgb = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
    rgb[:8], rgb[8:16] = 255, 0  # saturated rows: clipping at both ends
    amp = rng.uniform(0.0, 3.0, (64, 96)).astype(np.float32)
    pattern = rng.normal(0.0, 4.0, (64, 96)).astype(np.float32)
    want = np.clip(rgb + np.rint(amp * pattern).astype(np.int64)[..., None], 0, 255)
    out = np.zeros((2, 64, 96, 3), np.uint8)
    watermark_embed.apply(rgb, amp, pattern, out=out[1])  # written in place into a frame of a video
    assert np.array_equal(out[1], want) and not out[0].any()
    assert np.array_equal(watermark_embed.apply(rgb, amp, pattern), want)


def test_strided_frames_are_marked_like_contiguous_ones():
    # A pipeline may hand over a transposed view (the tiny i2v model does): OpenCV only writes into
    # C-ordered frames, so the embedder must not inherit the input's memory layout.
    frames = natural_video(3, 240, 320, seed=7)
    strided = np.ascontiguousarray(frames.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    assert not strided.flags["C_CONTIGUOUS"]
    pid = 0x5EED5EED5EED0001
    assert np.array_equal(watermark.embed_frames(strided, pid), watermark.embed_frames(frames, pid))


def test_mark_is_invisible_on_a_smooth_gradient():
    # A smooth horizontal gradient: the worst case for block patterns (nothing to hide them in).
    ramp = np.linspace(40, 200, 720, dtype=np.float32)[None, :, None] + np.zeros((480, 1, 3), np.float32)
    frames = np.repeat(np.rint(ramp).astype(np.uint8)[None], 2, axis=0)
    marked = watermark.embed_frames(frames, 0x0123456789ABCDEF)
    assert psnr(marked, frames) >= 46.0
    delta = marked[0, ..., 1].astype(np.int16) - frames[0, ..., 1]
    assert abs(_boundary_ratio(delta) - 1.0) < 0.1
    # The v1 mark on the same frame is the block patchwork this replaces (so the check can fail).
    old = watermark_v1.embed_frames(frames[:1], 0x0123456789ABCDEF)
    assert _boundary_ratio(old[0, ..., 1].astype(np.int16) - frames[0, ..., 1]) > 2.0
    assert watermark.detect_frames(marked).provenance_id == 0x0123456789ABCDEF


def test_clean_detection_and_psnr(marked_720):
    frames, marked, pid = marked_720
    assert psnr(marked, frames) >= 42.0
    result = watermark.detect_frames(marked)
    assert result.found and result.provenance_id == pid and result.confidence >= 0.98
    assert result.registration.startswith("v2 pixel grid")


GEOMETRY = {
    "crop 25% of the area, off centre, flipped": lambda f: f[:, 37:277, 301:661, :][:, :, ::-1],
    "scale 33% (240x160)": lambda f: resize(f, 240, 160),
    "stretched to 1280x720": lambda f: resize(f, 1280, 720),
    "rotation 5 degrees": lambda f: rotate(f, 5.0),
    "crop 10% then 50%": lambda f: resize(f[:, 24:456, 36:684], 324, 216),
    "letterbox 854x480": lambda f: pad_width(f, 854),
}


@pytest.mark.parametrize("attack", list(GEOMETRY))
def test_survives_geometric_attacks(marked_720, attack):
    _, marked, pid = marked_720
    attacked = np.ascontiguousarray(GEOMETRY[attack](marked[:4]))
    result = watermark.detect_frames(attacked)
    assert result.found and result.provenance_id == pid, result


def test_threads_do_not_change_a_single_bit(marked_720, monkeypatch):
    """Per-frame work runs on a thread pool (``provenance.parallel``); results are summed in frame
    order, so one thread and four read the same lattices, the same soft bits and the same id."""
    frames, marked, pid = marked_720
    rotated = np.ascontiguousarray(rotate(marked[:4], 5.0))  # the lattice path: every pool is used

    def run(workers: int):
        monkeypatch.setattr(parallel, "default_workers", lambda: workers)
        ys = watermark_v2.frame_lumas(rotated)
        lattices = watermark_v2._lattices(ys, watermark_v2._mean(ys))
        return (ys, lattices, watermark_v2.detect(rotated), watermark.embed_frames(frames[:2], pid),
                watermark.detect_frames(rotated[:, ::2, ::2]))

    one, four = run(1), run(4)
    assert all(np.array_equal(a, b) for a, b in zip(one[0], four[0], strict=True))
    assert len(one[1]) == len(four[1]) > 0
    assert all(np.array_equal(a, b) and s == t for (a, s), (b, t) in zip(one[1], four[1], strict=True))
    assert one[2] == four[2] and one[2].provenance_id == pid, (one[2], four[2])
    assert np.array_equal(one[3], four[3])
    assert one[4] == four[4]  # a half-size copy: every hypothesis, then the v1 fallback


def _social(marked: np.ndarray, tmp_path) -> np.ndarray:
    """9:16 portrait crop (270x480) -> 360 px wide -> H.264 CRF 30."""
    return reencode(social_geometry(marked), 30, tmp_path)


def test_survives_social_pipeline_on_smooth_content(tmp_path):
    frames = content_video("sky", 6, 480, 720, seed=4)
    pid = new_provenance_id()
    result = watermark.detect_frames(_social(watermark.embed_frames(frames, pid), tmp_path))
    assert result.provenance_id == pid and "scale 1.3" in result.registration


def test_survives_social_pipeline_on_textured_content(tmp_path):
    # From 6 frames of this content the 9:16 + 360 px + CRF 30 pipeline loses the id for most ids (1 of 8
    # read; it was a strict xfail that a lucky id turned into a pass); from 24 frames, half a real video,
    # 8 of 8 random ids were read. A fixed id keeps the suite from depending on the draw.
    frames = natural_video(24, 480, 720, seed=11)
    pid = 0x50C1A1_0000_0024
    result = watermark.detect_frames(_social(watermark.embed_frames(frames, pid), tmp_path))
    assert result.provenance_id == pid, result


@pytest.mark.parametrize("kind", ["sky", "night"])
def test_survives_h264_on_hard_content(kind, tmp_path):
    frames = content_video(kind, 6, 480, 720, seed=3)
    pid = new_provenance_id()
    marked = watermark.embed_frames(frames, pid)
    assert watermark.detect_frames(reencode(marked, 28, tmp_path)).provenance_id == pid


def test_survives_frame_edits(marked_720, tmp_path):
    _, marked, pid = marked_720
    index = [5, 4, 4, 2, 0]  # reversed, duplicated and dropped frames
    assert watermark.detect_frames(reencode(marked[index], 23, tmp_path, fps=6)).provenance_id == pid
    # A single frame (an exported still) carries the whole id.
    assert watermark.detect_frames(marked[3]).provenance_id == pid


# Attack classes the first v2 release missed (docs/benchmarks.md), each through the service's real H.264
# encoder; 8 frames a video (a real video has 49: more redundancy). Scale 33% on night and motion content
# is recovered from 49 frames (benchmark) but only in 3-5 of 5 random ids from 16-24 frames, so it is
# not asserted here.
FIXED = {
    ("night", "H.264 CRF 35"): lambda f, tmp: reencode(f, 35, tmp),
    ("night", "crop 10% then 50%, CRF 23"): lambda f, tmp: reencode(resize(f[:, 24:456, 36:684], 324, 216),
                                                              23, tmp),
    ("night", "social 9:16 -> 360 wide -> CRF 30"): lambda f, tmp: _social(f, tmp),
    ("night", "pillarboxed in 1280x720, CRF 23"): lambda f, tmp: reencode(fit(f, 1280, 720), 23, tmp),
    ("motion", "stretched to 1280x720, CRF 23"): lambda f, tmp: reencode(resize(f, 1280, 720), 23, tmp),
    ("motion", "pillarboxed in 1280x720, CRF 23"): lambda f, tmp: reencode(fit(f, 1280, 720), 23, tmp),
    # The lattice search used to take a vector three times the true one here (a sub-lattice).
    ("sky", "scale 33% (240x160), CRF 23"): lambda f, tmp: reencode(resize(f, 240, 160), 23, tmp),
}


# 240x160 is just above the smallest copy that can carry the mark: from 8 frames of sky it was read for
# 8 of 10 random ids (16 frames: 10 of 10), so that case reads 16 frames, still a third of a real video.
FIXED_FRAMES = {("sky", "scale 33% (240x160), CRF 23"): 16}


@pytest.mark.parametrize("case", list(FIXED), ids=[" / ".join(c) for c in FIXED])
def test_survives_attacks_the_first_release_missed(case, tmp_path):
    kind, _ = case
    frames = content_video(kind, FIXED_FRAMES.get(case, 8), 480, 720, seed=2026)
    # A fixed id per case: the suite must not pass or fail by the draw of an id (random ids are the
    # benchmark's job, docs/benchmarks.md).
    pid = 0x5A17_0000_0000_0000 | (zlib.crc32(" / ".join(case).encode()) & 0xFFFF_FFFF)
    result = watermark.detect_frames(FIXED[case](watermark.embed_frames(frames, pid), tmp_path))
    assert result.found and result.provenance_id == pid, result


def test_first_v2_release_files_are_still_detected(tmp_path):
    # Files marked before the spectral tilt and the informed correction: the flat-spectrum tile under
    # the old strength map. Same chips, signs and sync phases, so today's detector reads them.
    from veriframe.provenance import watermark_embed, watermark_tile

    frames = natural_video(6, 480, 720, seed=31)
    pid = 0x0FF1CE0FF1CE0042
    pattern = watermark_embed.tiled(watermark_tile.tile(pid, tilt=0.0), 480, 720)
    old_strength = [0.75 * watermark_embed.strength(watermark_embed.gray(f)) for f in frames]
    old = np.stack([watermark_embed.apply(f, a, pattern) for f, a in zip(frames, old_strength, strict=True)])
    assert not np.array_equal(old, watermark.embed_frames(frames, pid))  # so the check can fail
    result = watermark.detect_frames(reencode(old, 23, tmp_path))
    assert result.provenance_id == pid and result.registration.startswith("v2")


def test_informed_embedding_cancels_the_pictures_interference():
    # The detector's coherent read with and without the per-video correction tile, same strength map:
    # the correction must raise the sync peak and the code's agreement on a textured picture.
    from veriframe.provenance import watermark_embed, watermark_informed, watermark_tile

    frames = content_video("textured", 4, 480, 720, seed=8)
    pid = 0x1234ABCD5678EF01
    plain_pattern = watermark_embed.frame_pattern(pid, 480, 720)
    plain = np.stack([watermark_embed.embed_frame(f, plain_pattern) for f in frames])
    informed = watermark.embed_frames(frames, pid)
    code = 2.0 * payload.encode_id_v2(pid) - 1.0

    def agreement(marked: np.ndarray) -> float:
        ys = watermark_v2.frame_lumas(marked)
        spec = np.fft.rfft2(np.sum(watermark_v2._folds(ys, None), axis=0))
        _, shift = watermark_v2._sync_spec(spec)
        return float(np.mean(watermark_tile.soft_bits(watermark_tile.unshift(spec, shift)) * code))

    assert agreement(informed) > agreement(plain) + 0.02
    assert watermark_informed.CAP > 0


def test_service_records_the_algorithm_actually_embedded(tmp_path, dev_keys_dir, monkeypatch):
    # Where the v2 mark cannot be read back, the video carries the v1 mark: the manifest and the
    # ledger's `generated` event (execute.mark's Marked) must both name v1 then.
    from types import SimpleNamespace

    import c2pa

    from veriframe.provenance import mark as mark_module
    from veriframe.provenance import media
    from veriframe.service.flow import execute

    def run() -> tuple[object, dict]:
        services = SimpleNamespace(output_dir=tmp_path / "out", signing=execute.SigningKeys(dev_keys_dir))
        job = SimpleNamespace(id=f"job-{len(list(tmp_path.glob('*')))}", tenant="acme",
                              prompt_commitment="ab" * 32, prompt_key_id="cd" * 8, params={})
        video = SimpleNamespace(frames=natural_video(4, 256, 256, seed=5), fps=8,
                                model=SimpleNamespace(name="tiny", version="test"))
        marked = execute.mark(services, job, video, {"seed": 1})
        with open(marked.video, "rb") as handle:
            store = c2pa.Reader("video/mp4", handle).json()
        return marked, store

    marked, store = run()
    assert marked.watermark_algorithm == watermark.WATERMARK_ALGORITHM
    assert watermark.WATERMARK_ALGORITHM in store
    real_readback = mark_module.readable_after_encoding

    def v2_unreadable(mp4, pid) -> bool:  # as on noise-like pictures: the v2 tile drowns, v1 reads
        frames = media.decode_video(mp4)[0]
        return watermark.detect_frames(frames).registration.startswith("v1") and real_readback(mp4, pid)

    monkeypatch.setattr(mark_module, "readable_after_encoding", v2_unreadable)
    marked, store = run()
    assert marked.watermark_algorithm == watermark_v1.WATERMARK_ALGORITHM
    assert watermark_v1.WATERMARK_ALGORITHM in store and watermark.WATERMARK_ALGORITHM not in store
    assert watermark.detect_frames(media.decode_video(marked.video)[0]).registration.startswith("v1")


def test_a_video_that_carries_neither_mark_is_not_released(tmp_path, dev_keys_dir, monkeypatch):
    from veriframe.provenance import mark as mark_module
    from veriframe.provenance.keys import load_keys_dir
    from veriframe.provenance.manifest import ManifestInfo

    monkeypatch.setattr(mark_module, "readable_after_encoding", lambda *_: False)
    info = ManifestInfo(provenance_id=new_provenance_id(), model_name="tiny", model_version="test",
                        audit_ref="veriframe:job:x", params={})
    out = tmp_path / "video.mp4"
    with pytest.raises(watermark.UnreadableMark, match="not released"):
        mark_module.mark_video(natural_video(4, 256, 256, seed=5), 8, out, info, load_keys_dir(dev_keys_dir))
    assert list(tmp_path.iterdir()) == []  # no MP4, no temporary directory


def test_released_tiny_model_videos_verify(tmp_path, tiny_model_dir, dev_keys_dir):
    # Regression: the readback once looked at 8 frames while the verifier looks at up to 64; on these
    # noise-like 200-step outputs 9% of videos passed the readback and then failed `veriframe-verify`.
    # The release check is now the verifier's own detection, so every released video verifies.
    from veriframe.provenance.keys import load_keys_dir
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import mark_video
    from veriframe.provenance.verify import verify_file
    from veriframe.service.engine.engine import Engine, GenerationParams

    engine = Engine.load(str(tiny_model_dir))
    keys = load_keys_dir(dev_keys_dir)
    pids = [4535163673786559786, 1290479348047932731, 2488986450127548539, 14884578318078045581]
    for seed, pid in zip([4, 5, 12, 17], pids, strict=True):
        video = engine.generate(GenerationParams(
            prompt="a lighthouse on a cliff in a storm, waves crashing", width=256, height=256,
            num_frames=9, num_inference_steps=200, fps=8, seed=seed))
        info = ManifestInfo(provenance_id=pid, model_name="tiny", model_version="test",
                            audit_ref="veriframe:job:x", params={"seed": seed})
        out = tmp_path / f"{seed}.mp4"
        mark_video(video.frames, video.fps, out, info, keys)
        report = verify_file(out)
        assert report.watermark.found and report.watermark.id == format_id(pid), (seed, report.watermark)


def test_every_exported_frame_of_a_tiny_model_video_verifies(tmp_path, tiny_model_dir, dev_keys_dir):
    # Regression: the frames check once read the first, middle and last frames only; on this 2-step
    # output those carried the v2 mark and frames 3, 5 and 7 did not, so their signed PNGs failed
    # `veriframe-verify`. Every exported frame is now read back.
    from veriframe.provenance.keys import load_keys_dir
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import mark_video
    from veriframe.provenance.verify import verify_file
    from veriframe.service.engine.engine import Engine, GenerationParams

    video = Engine.load(str(tiny_model_dir)).generate(GenerationParams(
        prompt="a paper boat drifting down a rainy street", width=256, height=256, num_frames=9,
        num_inference_steps=2, fps=8, seed=0))
    pid = 18350130295215790949
    info = ManifestInfo(provenance_id=pid, model_name="tiny", model_version="test",
                        audit_ref="veriframe:job:x", params={"seed": 0})
    result = mark_video(video.frames, video.fps, tmp_path / "v.mp4", info, load_keys_dir(dev_keys_dir),
                        frames_dir=tmp_path / "frames")
    assert len(result.frame_paths) == 9
    for path in [tmp_path / "v.mp4", *result.frame_paths]:
        report = verify_file(path)
        assert report.watermark.found and report.watermark.id == format_id(pid), (path.name, report.watermark)


def test_v1_files_are_still_detected(tmp_path):
    frames = natural_video(4, 480, 720, seed=21)
    old = watermark_v1.embed_frames(frames, 0xFEEDFACE12345678)
    result = watermark.detect_frames(reencode(old, 23, tmp_path))
    assert result.provenance_id == 0xFEEDFACE12345678 and result.registration.startswith("v1")


def test_v1_files_are_still_detected_after_crop_and_rescale(tmp_path):
    # Old files that went through a crop or a rescale: the crop search (which now ranks its 64 pixel
    # phases on a sample of blocks) and the rescale hypothesis must still find them.
    frames = natural_video(8, 480, 720, seed=22)
    pid = 0xFEEDFACE87654321
    old = watermark_v1.embed_frames(frames, pid)
    cropped = watermark.detect_frames(reencode(np.ascontiguousarray(old[:, 13:445, 5:653]), 23, tmp_path))
    assert cropped.provenance_id == pid and cropped.registration.startswith("v1 crop"), cropped
    rescaled = watermark.detect_frames(resize(old, 360, 240))
    assert rescaled.provenance_id == pid and rescaled.registration.startswith("v1 rescaled"), rescaled


def test_v1_reads_a_budget_of_blocks_not_of_frames(tmp_path):
    # A large old file reads fewer of its frames (the same evidence as 8 frames of 720x480) and is
    # still detected; small ones read all 8.
    sizes = {(480, 720): 8, (256, 256): 8, (720, 1280): 3, (768, 1360): 3, (1080, 1920): 2}
    assert {size: len(watermark_v1.budget_frames(8, *size)) for size in sizes} == sizes
    assert len(watermark_v1.budget_frames(1, 1080, 1920)) == 1
    pid = 0xFEEDFACE0000A0A0
    old = watermark_v1.embed_frames(natural_video(8, 720, 1280, seed=23), pid)
    result = watermark.detect_frames(reencode(old, 28, tmp_path))
    assert result.provenance_id == pid and result.registration == "v1 as is", result


def test_v1_fallback_work_on_unmarked_video_is_bounded(monkeypatch):
    # Every unmarked video pays for v1's whole search: count the blocks whose s0 it computes.
    from veriframe.provenance import qim

    blocks: list[int] = []
    real = qim.top_singular_values
    monkeypatch.setattr(qim, "top_singular_values",
                        lambda y: blocks.append(int(np.prod(qim.grid_shape(*y.shape[-2:])))) or real(y))
    rng = np.random.default_rng(3)
    # 1920x1080: the frames as they are and two rescales (to 1280x720 and 1360x768), about one budget
    # each (reading all 8 frames every time was 11.7 budgets).
    assert not watermark_v1.detect_frames(rng.integers(0, 256, (8, 1080, 1920, 3), np.uint8)).found
    assert sum(blocks) <= 4 * watermark_v1.BLOCK_BUDGET
    # 640x360: two upscaling rescales (8 frames each: an upscaled copy holds no more evidence) and the
    # crop search; the 64 pixel phases are ranked on samples, so the total is under half of reading
    # 4 whole frames per phase as before (as is 8 x 3600, rescales 8 x (14400 + 16320), phases
    # 64 x 4 x 3600, the two best phases 2 x 12 x 3600 blocks).
    blocks.clear()
    assert not watermark_v1.detect_frames(rng.integers(0, 256, (8, 360, 640, 3), np.uint8)).found
    assert sum(blocks) <= 0.5 * (8 * 3600 + 8 * (14400 + 16320) + 64 * 4 * 3600 + 2 * 12 * 3600)


def test_v2_pixel_grid_reads_a_budget_of_pixels_not_of_frames(tmp_path):
    # The pixel-grid reads fold as many frames as hold 24 frames of 720x480 of picture; black bars
    # do not count, so a small picture letterboxed into a large frame reads every frame.
    rng = np.random.default_rng(5)

    def planes(height: int, width: int, bars: int = 0) -> list[np.ndarray]:
        y = np.zeros((height, width), np.float32)
        y[:, bars:width - bars] = rng.uniform(0, 255, (height, width - 2 * bars))
        return [y] * 24

    counts = {(480, 720): 24, (360, 640): 24, (720, 1280): 9, (1080, 1920): 4, (2160, 3840): 4}
    assert {size: len(watermark_v2.grid_frames(planes(*size))) for size in counts} == counts
    assert len(watermark_v2.grid_frames(planes(1080, 1920, bars=600))) == 11
    assert list(watermark_v2.grid_frames(planes(1080, 1920)[:3])) == [0, 1, 2]
    pid = 0x0123456789ABCDEF
    marked = watermark.embed_frames(natural_video(12, 1080, 1920, seed=31), pid)
    result = watermark.detect_frames(reencode(marked, 28, tmp_path))
    assert result.provenance_id == pid and "pixel grid" in result.registration, result


def test_copy_upscaled_beyond_the_lattice_range_is_read_through_the_half_size_search(tmp_path, monkeypatch):
    # A 720x480 video stretched to 1920x1080 is 2.67 x 2.25 its size: beyond watermark_sync.MAX_SCALE,
    # so only the search on frames halved in size finds its lattice.
    pid = 0x0FEEDFACE1234567
    marked = watermark.embed_frames(natural_video(12, 480, 720, seed=41), pid)
    upscaled = reencode(resize(marked, 1920, 1080), 23, tmp_path)
    result = watermark.detect_frames(upscaled)
    assert result.provenance_id == pid and "half size" in result.registration, result
    monkeypatch.setattr(watermark_v2, "UPSCALE_MIN_SIDE", 10**6)
    assert not watermark_v2.detect(upscaled)


def test_v1_frames_are_readable_by_the_library():
    from imwatermark import WatermarkDecoder

    frames = natural_video(2, 480, 720, seed=12)
    pid = new_provenance_id()
    marked = watermark_v1.embed_frames(frames, pid)
    decoder = WatermarkDecoder("bits", payload.EMBED_BITS)
    bgr = np.ascontiguousarray(marked[1][..., ::-1])
    bits = decoder.decode(bgr, "dwtDctSvd", scales=[watermark_v1.SCALE, 0, 0])
    assert np.array_equal(np.asarray(bits, np.uint8), payload.frame_bits(pid, 1))


def test_unmarked_items_yield_nothing(tmp_path, monkeypatch):
    calls = []
    real = payload.decode_soft_v2
    monkeypatch.setattr(payload, "decode_soft_v2", lambda soft: calls.append(1) or real(soft))
    items = []
    for seed, kind in enumerate(["textured", "sky", "night", "motion"] * 3):
        h, w = [(256, 256), (240, 320), (480, 720)][seed % 3]
        items.append(content_video(kind, 3, h, w, seed=500 + seed))
    for s in range(4):  # other payloads, both of the library's block methods
        bits = np.random.default_rng(s).integers(0, 2, 32)
        method = ("dwtDct", "dwtDctSvd")[s % 2]
        items.append(stock_marked(natural_video(2, 256, 256, seed=600 + s), bits, method))
    rng = np.random.default_rng(5)
    items += [np.zeros((2, 256, 256, 3), np.uint8), np.full((2, 256, 256, 3), 255, np.uint8),
              rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)]
    items.append(reencode(natural_video(4, 432, 648, seed=77), 23, tmp_path))
    # Large enough for the half-size lattice search (upscaled copies): it stays within the budget too.
    items.append(reencode(natural_video(3, 1080, 1920, seed=78), 23, tmp_path))
    found = []
    for frames in items:
        calls.clear()
        result = watermark.detect_frames(frames)
        assert len(calls) <= watermark_v2.MAX_DECODES
        if result.found:
            found.append(result)
    assert found == []


def test_another_id_reads_back_as_itself(marked_720):
    frames, _, pid = marked_720
    other = watermark.embed_frames(frames[:2], pid ^ 1)
    assert watermark.detect_frames(other).provenance_id == pid ^ 1


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="too small"):
        watermark.embed_frames(np.zeros((2, 100, 100, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="uint8"):
        watermark.embed_frames(np.zeros((2, 300, 300, 3), np.float32), 1)
    tiny = watermark.detect_frames(np.zeros((2, 40, 100, 3), np.uint8))
    assert not tiny.found and "too small" in tiny.registration


# ------------------------------------------------------------------ motion (watermark_motion)


def _panned(gain: float, sigma: float, frames: int = 12) -> tuple[np.ndarray, int]:
    """One marked wide picture panned 24 px a frame, the mark moving with the content (what H.264 at
    CRF 40 does to a fast pan: it keeps the intra frame's copy and predicts the rest from moved
    content), at ``gain`` x the mark's strength, with fresh noise of ``sigma`` levels in every frame."""
    pid = 0x0DDC0FFEE0D15EA5
    wide = natural_video(1, 480, 720 + 24 * frames, seed=21)
    marked = wide[0] + gain * (watermark.embed_frames(wide, pid)[0].astype(np.float32) - wide[0])
    rng = np.random.default_rng(5)
    out = [marked[:, 24 * t : 24 * t + 720] + rng.normal(0.0, sigma, (480, 720, 1)) for t in range(frames)]
    return np.clip(np.stack(out), 0, 255).astype(np.uint8), pid


def test_content_displacement_is_measured_across_a_pan():
    from veriframe.provenance import watermark_motion

    frames, _ = _panned(1.0, 4.0)
    d = watermark_motion.displacements(watermark_v2.frame_lumas(frames))
    assert d is not None and np.allclose(d[:, 1], -24.0 * np.arange(len(frames)), atol=1.5)
    assert np.abs(d[:, 0]).max() < 1.5
    # Static content: no motion hypothesis at all (no extra decodes).
    still = np.repeat(natural_video(1, 480, 720, seed=3), 6, axis=0)
    assert watermark_motion.displacements(watermark_v2.frame_lumas(still)) is None


def test_motion_compensated_fold_reads_a_mark_dragged_with_a_pan(monkeypatch):
    from veriframe.provenance import watermark_motion

    frames, pid = _panned(0.35, 16.0)
    # Each frame's own sync peak is weak (z ~5, noise ~4.3) and the static fold smears the mark out.
    monkeypatch.setattr(watermark_motion, "MIN_STEP_PX", float("inf"))  # motion hypotheses off
    assert not watermark.detect_frames(frames).found
    monkeypatch.setattr(watermark_motion, "MIN_STEP_PX", 4.0)
    result = watermark.detect_frames(frames)
    assert result.provenance_id == pid and "content's motion" in result.registration, result


def test_content_cancelled_mean_gives_the_lattice_of_a_fast_pan():
    # A fast pan rescaled to 720x360: every frame carries its own static copy of the mark; removing
    # the moved content leaves the mark, whose lattice is the true 1.00 x 0.75 (docs/provenance.md).
    from veriframe.provenance import watermark_motion, watermark_sync

    pid = 0x5EEDF00DCAFEB0BA
    marked = watermark.embed_frames(content_video("motion", 12, 480, 720, seed=2026), pid)
    ys = watermark_v2.frame_lumas(resize(marked, 720, 360))
    d = watermark_motion.displacements(ys)
    assert d is not None
    fresh = watermark_motion.fresh_mark_mean(ys, d)
    (a, _), *_ = watermark_sync.lattice_candidates([watermark_sync.residual(fresh, 2.4)], 2)
    assert np.allclose(a, np.diag([1.0, 0.75]), atol=0.01), a
    reading = watermark_v2._read_fresh_lattices(ys, d)
    assert reading is not None and reading.provenance_id == pid


def test_lattice_residual_of_the_window_gives_the_whole_planes_lattices():
    # lattice_residual filters only the central window the lattice search reads (plus the filters'
    # reach): the candidates must be exactly those of the whole plane's residual, at every shape.
    from veriframe.provenance import watermark_sync

    marked = watermark.embed_frames(natural_video(2, 480, 720, seed=44), 0x0A11CE5B0B0FACE5)
    y = watermark_v2.frame_lumas(resize(marked, 1080, 720))[0]  # a 1.5x lattice
    for plane in (y, y[:701, :1001], y[:300, :1080], y[:200, :300]):
        whole = watermark_sync.lattice_candidates([watermark_sync.residual(plane, 2.4)], 2)
        window = watermark_sync.lattice_candidates([watermark_sync.lattice_residual(plane, 2.4)], 2)
        assert len(whole) == len(window) and (len(whole) > 0 or plane.shape[0] < 301)
        for (a, score), (b, other) in zip(whole, window, strict=True):
            assert np.array_equal(a, b) and score == other


def test_lattice_pairs_with_only_negative_scores_do_not_fail():
    # A picture without a lattice can score every pair below zero; the sub-lattice rule (a pair within
    # 70% of the best) once dropped even the best pair then, and the search raised ValueError (seen on
    # an unmarked benchmark item).
    from veriframe.provenance import watermark_sync

    auto = -np.ones((301, 301))
    pairs = watermark_sync._best_pairs(auto, np.array([150, 150]), 1.0, np.array([[128.0, 0.0]]),
                                       np.array([[0.0, 128.0]]))
    assert len(pairs) == 1 and pairs[0][0] < 0
