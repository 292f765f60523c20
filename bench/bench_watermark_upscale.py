"""Upscaled copies and large frames: the half-size lattice search and the cropped lattice residuals,
side by side with the detector as it was before them (same process, same bytes).

    nice .venv/bin/python bench/bench_watermark_upscale.py [--ids 2] [--frames 49] [--repeat 3]

"before" is this checkout with the two changes switched off in place: ``UPSCALE_MIN_SIDE`` out of reach
and ``lattice_residual`` replaced by the whole-plane ``residual`` (which gives the same lattice
candidates, only slower). Part 1: 720x480 marked videos (``synthetic.content_video``, four contents,
random ids) upscaled and encoded with H.264 CRF 23 (one encoder thread), read by both. Part 2: CPU
seconds of one thread to search an unmarked video (best of ``--repeat``, interleaved), per size.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import contextlib
import datetime as dt
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.video_attacks import encode, fit, resize
from veriframe.provenance import watermark, watermark_sync, watermark_v2
from veriframe.provenance.synthetic import CONTENTS, content_video

UPSCALES = {
    "stretched 1440x960 (2.0x)": lambda f: resize(f, 1440, 960),
    "stretched 1600x1066 (2.2x)": lambda f: resize(f, 1600, 1066),
    "pillarboxed in 1920x1080 (2.25x)": lambda f: fit(f, 1920, 1080),
    "stretched 1920x1080 (2.67x2.25)": lambda f: resize(f, 1920, 1080),
}
SIZES = [(720, 480), (1280, 720), (1920, 1080)]


@contextlib.contextmanager
def before():
    """The detector without the half-size search and with whole-plane lattice residuals."""
    side, lattice_residual = watermark_v2.UPSCALE_MIN_SIDE, watermark_sync.lattice_residual
    watermark_v2.UPSCALE_MIN_SIDE, watermark_sync.lattice_residual = 10**9, watermark_sync.residual
    try:
        yield
    finally:
        watermark_v2.UPSCALE_MIN_SIDE, watermark_sync.lattice_residual = side, lattice_residual


def detect_cpu(frames: np.ndarray) -> float:
    """CPU seconds of this process to search ``frames``."""
    start = time.process_time()
    watermark.detect_frames(frames)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=2, help="random ids per content")
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"### Upscaled copies and large frames ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)\n")
    print(f"`{' '.join(['python', *sys.argv])}`; load average {os.getloadavg()[0]:.1f} at the start\n")

    rng = np.random.default_rng(20261203)
    found = {name: [0, 0, 0] for name in UPSCALES}  # before, now, wrong (either)
    for k in range(args.ids):
        pid = int(rng.integers(1, 2**63))
        for content in CONTENTS:
            marked = watermark.embed_frames(content_video(content, args.frames, 480, 720, seed=300 + k), pid)
            for name, upscale in UPSCALES.items():
                frames = encode(upscale(marked), "libx264", 23, 8, 1)
                with before():
                    old = watermark.detect_frames(frames)
                new = watermark.detect_frames(frames)
                found[name][0] += old.provenance_id == pid
                found[name][1] += new.provenance_id == pid
                found[name][2] += sum(r.found and r.provenance_id != pid for r in (old, new))
    total = args.ids * len(CONTENTS)
    print(f"Marked 720x480 x {args.frames} frames, upscaled, H.264 CRF 23 ({total} videos per row):\n")
    print("| upscale | recovered before | recovered now | wrong id |")
    print("|---|---|---|---|")
    for name, (old, new, wrong) in found.items():
        print(f"| {name} | {old} of {total} | **{new} of {total}** | {wrong} |")

    print(f"\nUnmarked video, {args.frames} frames textured / fast pan, H.264 CRF 23, whole search "
          f"(v1 fallback included), CPU s of one thread, best of {args.repeat}:\n")
    print("| content | size | before | now | ratio now / before |")
    print("|---|---|---|---|---|")
    for content in ("textured", "motion"):
        for width, height in SIZES:
            frames = encode(content_video(content, args.frames, height, width, seed=5), "libx264", 23, 8, 1)
            best = {"before": np.inf, "now": np.inf}
            for _ in range(args.repeat):
                with before():
                    best["before"] = min(best["before"], detect_cpu(frames))
                best["now"] = min(best["now"], detect_cpu(frames))
            assert not watermark.detect_frames(frames).found
            print(f"| {content} | {width}x{height} | {best['before']:.3f} | {best['now']:.3f} | "
                  f"{best['now'] / best['before']:.2f} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
