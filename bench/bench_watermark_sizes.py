"""Cost of detecting an *unmarked* video (the whole search fails: v2 pixel grid, lattices, v1 fallback)
per frame size, one thread, wall and CPU, side by side with a baseline checkout.

    nice .venv/bin/python bench/bench_watermark_sizes.py [--frames 49] [--sizes 240x160,640x360,...]
        [--baseline-python /work/main/.venv/bin/python]

Sizes are width x height. Each video is ``synthetic.content_video`` (textured) through H.264 CRF 23
(one encoder thread, so both detectors read the same bytes). For each size this process times
``watermark.detect_frames`` and ``watermark_v2.detect`` (the v1 share is the difference); with
``--baseline-python`` the same saved frames are then timed by that interpreter's install (e.g. the
main checkout's venv), in a subprocess started from a neutral directory so that it imports its own
code. Every figure is the best of ``--repeat`` runs after one warm-up; OpenCV, BLAS and the v1
detector's thread pool are limited to one thread in both.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.video_attacks import encode
from veriframe.provenance import watermark, watermark_v1, watermark_v2
from veriframe.provenance.synthetic import content_video

SIZES = "240x160,640x360,360x640,720x480,1280x720,1920x1080"

def measure(frames: np.ndarray, repeat: int) -> dict:
    """Best (wall, CPU) seconds of a whole detection and of v2 alone, and whether anything was found."""
    out: dict = {}
    jobs = (("total", lambda: watermark.detect_frames(frames)), ("v2", lambda: watermark_v2.detect(frames)))
    for name, job in jobs:
        job()
        best = (1e9, 1e9)
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            job()
            best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
        out[name] = best
    out["found"] = bool(watermark.detect_frames(frames).found)
    return out


#: Run by the baseline interpreter: :func:`measure` itself (its source, so the baseline imports only its
#: own checkout's code) on the saved frames, printed as JSON.
_BASELINE = """
import json, sys, time
import cv2, numpy as np
cv2.setNumThreads(1)
from veriframe.provenance import watermark, watermark_v1, watermark_v2
watermark_v1.default_workers = lambda: 1
{measure}
print(json.dumps(measure(np.load(sys.argv[1]), int(sys.argv[2]))))
"""


def baseline(python: str, frames: np.ndarray, repeat: int) -> dict:
    """The same measurement by another checkout's interpreter, on the same frames."""
    script = _BASELINE.format(measure=inspect.getsource(measure))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.npy"
        np.save(path, frames)
        done = subprocess.run([python, "-c", script, str(path), str(repeat)], cwd=tmp, check=True,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(m: dict) -> str:
    (wall, cpu), (_, v2_cpu) = m["total"], m["v2"]
    return f"{wall:.3f} / {cpu:.3f} (v1 {max(0.0, cpu - v2_cpu):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--sizes", default=SIZES, help="comma-separated WIDTHxHEIGHT")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-python", default=None, help="interpreter of the checkout to compare with")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    watermark_v1.default_workers = lambda: 1
    load = os.getloadavg()
    print(f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, {os.cpu_count()} cores, "
          f"{args.frames} frames, H.264 CRF 23, one thread; cells: wall / CPU s (v1 share of CPU)",
          flush=True)
    head = "| size (W x H) | this checkout | baseline | CPU ratio (baseline / this) | found |"
    print(head + "\n|---|---|---|---|---|", flush=True)
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        frames = encode(content_video("textured", args.frames, height, width, seed=5), threads=1)
        new = measure(frames, args.repeat)
        old = baseline(args.baseline_python, frames, args.repeat) if args.baseline_python else None
        ratio = f"{old['total'][1] / new['total'][1]:.1f}x" if old else "-"
        found = f"{new['found']}" + (f" / {old['found']}" if old else "")
        print(f"| {size} | {_cell(new)} | {_cell(old) if old else '-'} | {ratio} | {found} |", flush=True)


if __name__ == "__main__":
    main()
