"""Watermark robustness and speed: Veriframe's settings vs invisible-watermark's defaults, side by side.

    .venv/bin/python bench/bench_watermark.py [--frames 49] [--out docs/benchmarks-provenance.md]

Frames: ``veriframe.provenance.synthetic.natural_video`` (textured, gradients, moving shapes), 720x480.
Baseline ("library default"): ``WatermarkEncoder`` dwtDctSvd with its default scales (chroma U, 36),
the 64-bit id as payload in every frame, decoded per frame by ``WatermarkDecoder``; the id counts as
recovered when a per-bit majority over frames equals it (the library has no error correction).
Veriframe: ``veriframe.provenance.watermark`` (luma, scale 48, RS + tag + sync + frame keys, soft combination,
gain/offset estimation and re-registration); the id counts as recovered when ``detect_frames`` (blind:
it is told nothing about the attack) returns it. Bit accuracy is per frame, per embedded bit, read by
the library's own decoder (``lib``) and by Veriframe's soft reader after its gain/offset estimate
(``soft``); for the crop, both bit readings paste the crop back at the known offset (an oracle
registration; the library has none), while ``id`` is blind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from veriframe.provenance import media, payload, qim, watermark
from veriframe.provenance.synthetic import natural_video

CROP = (21, 37, 432, 648)  # top, left, height, width: 10% off each dimension, odd offsets


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def reencode(frames: np.ndarray, crf: int, fps: int = 8) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        media.encode_mp4(frames, fps, path, crf=crf)
        return media.decode_video(path)[0]


def scale_and_back(frames: np.ndarray) -> np.ndarray:
    h, w = frames.shape[1:3]
    return np.stack([cv2.resize(cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (w, h),
                                interpolation=cv2.INTER_CUBIC) for f in frames])


def brightness(gain: float):
    return lambda frames: np.clip(frames.astype(np.float64) * gain, 0, 255).astype(np.uint8)


def crop(frames: np.ndarray) -> np.ndarray:
    top, left, h, w = CROP
    return np.ascontiguousarray(frames[:, top : top + h, left : left + w])


def frame_rate(frames: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """8 -> ~6 fps: drop every 3rd frame, duplicate a few, re-encode at CRF 23."""
    index = [t for t in range(len(frames)) if t % 3]
    index = sorted(index + index[::7])
    return reencode(frames[index], 23, fps=6), index


ATTACKS = {
    "none": lambda f: (f, None),
    "H.264 CRF 23": lambda f: (reencode(f, 23), None),
    "H.264 CRF 28": lambda f: (reencode(f, 28), None),
    "scale 50% and back": lambda f: (scale_and_back(f), None),
    "crop 10% (648x432) + CRF 23": lambda f: (reencode(crop(f), 23), None),
    "brightness +10%": lambda f: (brightness(1.1)(f), None),
    "brightness -10%": lambda f: (brightness(0.9)(f), None),
    "frame rate 8->6 fps + CRF 23": frame_rate,
    "CRF 28 + scale 50% and back": lambda f: (reencode(scale_and_back(f), 28), None),
    "crop 10% + CRF 28": lambda f: (reencode(crop(f), 28), None),
    "H.264 CRF 35 (beyond target)": lambda f: (reencode(f, 35), None),
}


def paste_back(frames: np.ndarray, unmarked: np.ndarray) -> np.ndarray:
    """The crop put back where it came from, over the unmarked frames (an oracle registration)."""
    canvas = unmarked[: len(frames)].copy()
    top, left, h, w = CROP
    canvas[:, top : top + h, left : left + w] = frames
    return canvas


def lib_bits(frames: np.ndarray, length: int, scales: list[int]) -> np.ndarray:
    from imwatermark import WatermarkDecoder

    decoder = WatermarkDecoder("bits", length)
    read = [decoder.decode(np.ascontiguousarray(f[..., ::-1]), "dwtDctSvd", scales=scales) for f in frames]
    return np.asarray(read, np.uint8)


def soft_accuracy(frames: np.ndarray, pid: int, index: list[int]) -> float:
    """Veriframe's own per-frame reading (after gain/offset estimation, polarity from the sync word)."""
    s0 = watermark._s0(qim.luma(frames))
    gain, offset, _ = watermark._estimate_gain_offset(s0)
    v = watermark._soft_positions(s0, gain, offset, s0.shape[2], 0)
    expected = np.stack([payload.frame_bits(pid, t) for t in index])
    polarity = 1.0 if watermark._sync_scores(v).max(axis=1).sum() >= (-watermark._sync_scores(v)).max(
        axis=1).sum() else -1.0
    return float(np.mean(((polarity * v) > 0) == expected))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    args = parser.parse_args()

    from imwatermark import WatermarkEncoder

    frames = natural_video(args.frames, 480, 720, seed=2026)
    pid = 0x5EEDF00DCAFEB0BA
    id_bits = np.unpackbits(np.frombuffer(pid.to_bytes(8, "big"), np.uint8))

    start = time.perf_counter()
    ours = watermark.embed_frames(frames, pid)
    ours_ms = (time.perf_counter() - start) / len(frames) * 1e3
    start = time.perf_counter()
    watermark.embed_frames(frames[:8], pid, workers=1)
    ours_ms_1 = (time.perf_counter() - start) / 8 * 1e3

    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(id_bits))
    start = time.perf_counter()
    base = np.stack([encoder.encode(np.ascontiguousarray(f[..., ::-1]), "dwtDctSvd")[..., ::-1]
                     for f in frames])
    base_ms = (time.perf_counter() - start) / len(frames) * 1e3

    start = time.perf_counter()
    watermark.detect_frames(ours)
    detect_ms = (time.perf_counter() - start) / len(frames) * 1e3
    start = time.perf_counter()
    lib_bits(base[:8], 64, [0, 36, 0])
    base_detect_ms = (time.perf_counter() - start) / 8 * 1e3

    rows = []
    ours_bits = np.stack([payload.frame_bits(pid, t) for t in range(len(frames))])
    for name, attack in ATTACKS.items():
        t0 = time.perf_counter()
        attacked_base, _ = attack(base)
        attacked_ours, index = attack(ours)
        index = index if index is not None else list(range(len(attacked_ours)))
        base_read = attacked_base
        ours_read = attacked_ours
        if attacked_ours.shape[1:] != ours.shape[1:]:
            ours_read = paste_back(attacked_ours, frames)
            base_read = attacked_base  # the library has no registration: it reads what it gets
        base_decoded = lib_bits(base_read, 64, [0, 36, 0])
        base_acc = float(np.mean(base_decoded == id_bits))
        base_id = bool(np.array_equal((base_decoded.mean(axis=0) > 0.5).astype(np.uint8), id_bits))
        ours_lib = float(np.mean(lib_bits(ours_read, payload.EMBED_BITS, [int(watermark.SCALE), 0, 0])
                                 == ours_bits[index]))
        ours_soft = soft_accuracy(ours_read, pid, index)
        result = watermark.detect_frames(attacked_ours)
        rows.append((name, base_acc, base_id, ours_lib, ours_soft, result.provenance_id == pid,
                     result.confidence, result.registration, time.perf_counter() - t0))
        print(f"{name:32} default: acc {base_acc:.3f} id {base_id!s:5} | veriframe: lib {ours_lib:.3f} "
              f"soft {ours_soft:.3f} id {result.provenance_id == pid!s:5} conf {result.confidence:.3f} "
              f"({result.registration})", flush=True)

    # False positives: unmarked versions of the same frames, re-encoded.
    unmarked = watermark.detect_frames(reencode(frames, 23))
    lines = [
        "# Provenance benchmarks: watermark",
        "",
        f"- Date: {dt.date.today().isoformat()}; machine: 2-core CPU dev VM, no GPU "
        f"({platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"OpenCV {cv2.__version__})",
        f"- Command: `.venv/bin/python bench/bench_watermark.py --frames {args.frames} --out "
        "docs/benchmarks-provenance.md`",
        f"- Video: {args.frames} frames, 720x480, "
        "`veriframe.provenance.synthetic.natural_video(seed=2026)` (textured, "
        "gradients, moving shapes); H.264 via PyAV/libx264 yuv420p, preset medium.",
        "",
        "## Quality and speed",
        "",
        "| | library default (dwtDctSvd, U, scale 36, 64 bits) "
        "| Veriframe (dwtDctSvd, Y, scale 48, 192 bits) | ratio |",
        "|---|---|---|---|",
        f"| PSNR vs unmarked (dB) | {psnr(base, frames):.2f} | {psnr(ours, frames):.2f} | |",
        f"| embed ms/frame (all cores) | {base_ms:.1f} (1 thread, Python loops) | {ours_ms:.1f} | "
        f"{base_ms / ours_ms:.1f}x faster |",
        f"| embed ms/frame (1 thread) | {base_ms:.1f} | {ours_ms_1:.1f} "
        f"| {base_ms / ours_ms_1:.1f}x faster |",
        f"| detect ms/frame | {base_detect_ms:.1f} (per-frame decode) "
        f"| {detect_ms:.1f} (whole-video detection, clean) | |",
        f"| embed, whole video | {base_ms * args.frames / 1e3:.2f} s "
        f"| {ours_ms * args.frames / 1e3:.2f} s | |",
        "",
        "## Robustness",
        "",
        "`acc`: mean per-frame bit accuracy (0.5 = chance). "
        "`id`: the 64-bit id recovered from the whole video.",
        "",
        "| attack | default: acc | default: id (majority) | Veriframe: acc (library decoder) | "
        "Veriframe: acc (soft reader) | Veriframe: id (blind) | confidence | registration |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, base_acc, base_id, ours_lib, ours_soft, found, conf, reg, _ in rows:
        lines.append(f"| {name} | {base_acc:.3f} | {'yes' if base_id else 'no'} | {ours_lib:.3f} | "
                     f"{ours_soft:.3f} | {'yes' if found else '**no**'} | {conf:.3f} | {reg} |")
    lines += [
        "",
        f"Unmarked frames (same video, CRF 23): found = {unmarked.found}.",
        "",
        "Notes: the library decoder reads Veriframe's luma marks with a fixed threshold, so a codec's small "
        "luma offset (PyAV's RGB->yuv420p->RGB round trip lowers luma by ~1 level, s0 by ~9) and brightness "
        "changes move its readings; Veriframe's detector estimates that gain/offset blind first (the `soft` "
        "column). The crop rows' bit accuracies use the known offset; the id column does not. The default's "
        "`id` is a per-bit majority compared with the known id: it has no error correction or check code, "
        "so in the field it cannot tell a right id from a wrong one, and it has no registration.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
