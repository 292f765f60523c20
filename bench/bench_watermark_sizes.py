"""Cost of detecting an *unmarked* video (the whole search fails: v2 pixel grid, lattices, v1 fallback)
per frame size, wall and CPU, side by side with a baseline checkout.

    nice .venv/bin/python bench/bench_watermark_sizes.py [--frames 49] [--sizes 240x160,640x360,...]
        [--baseline-python /work/main/.venv/bin/python] [--threads 1|0] [--load N]

Sizes are width x height. Each video is ``synthetic.content_video`` (textured) through H.264 CRF 23
(one encoder thread, so both detectors read the same bytes). For each size this process times
``watermark.detect_frames`` and ``watermark_v2.detect`` (the v1 share is the difference); with
``--baseline-python`` the same saved frames are then timed by that interpreter's install (e.g. the
main checkout's venv), in a subprocess started from a neutral directory so that it imports its own
code. Every figure is the best of ``--repeat`` runs after one warm-up.

``--threads 1`` (the default) limits OpenCV, BLAS and the v1 detector's thread pool to one thread in
both, so figures compare code, not cores; ``--threads 0`` leaves OpenCV's threads and v1's pool (one
thread a core) at their defaults, as `veriframe-verify` runs (BLAS stays at one thread: detection makes
no large BLAS calls). ``--load N`` keeps N
busy-looping processes running for the whole measurement, so "under load" is the same load every time
(the header prints the load average at the start and the end).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import functools
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
from veriframe.provenance import parallel, watermark, watermark_v2
from veriframe.provenance.synthetic import content_video


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--sizes", default="240x160,640x360,360x640,720x480,1280x720,1920x1080",
                        help="comma-separated WIDTHxHEIGHT")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-python", default=None, help="interpreter of the checkout to compare with")
    parser.add_argument("--threads", type=int, choices=(0, 1), default=1,
                        help="1: one thread everywhere; 0: OpenCV's and v1's defaults (the verifier's)")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="busy-looping processes kept running beside the measurement")
    return parser


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
from veriframe.provenance import watermark, watermark_v1, watermark_v2
if sys.argv[3] == "1":
    cv2.setNumThreads(1)
    if hasattr(watermark_v1, "default_workers"):  # checkouts before provenance.parallel (2026-12-08)
        watermark_v1.default_workers = lambda: 1
    else:
        from veriframe.provenance import parallel
        parallel.default_workers = lambda: 1
{measure}
print(json.dumps(measure(np.load(sys.argv[1]), int(sys.argv[2]))))
"""


def baseline(python: str, frames: np.ndarray, repeat: int, threads: int) -> dict:
    """The same measurement by another checkout's interpreter, on the same frames and threads."""
    script = _BASELINE.format(measure=inspect.getsource(measure))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.npy"
        np.save(path, frames)
        command = [python, "-c", script, str(path), str(repeat), str(threads)]
        done = subprocess.run(command, cwd=tmp, check=True, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": ""})
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(m: dict) -> str:
    (wall, cpu), (_, v2_cpu) = m["total"], m["v2"]
    return f"{wall:.3f} / {cpu:.3f} (v1 {max(0.0, cpu - v2_cpu):.3f})"


def _one_thread(job):
    """``job()`` with OpenCV and the v1 pool at one thread, then back to what they were."""
    threads, workers = cv2.getNumThreads(), parallel.default_workers
    cv2.setNumThreads(1)
    parallel.default_workers = lambda: 1
    try:
        return job()
    finally:
        cv2.setNumThreads(threads)
        parallel.default_workers = workers


def main(args: argparse.Namespace) -> None:
    if args.threads == 1:
        cv2.setNumThreads(1)
        parallel.default_workers = lambda: 1
    # With library threads and no other checkout, the baseline is this checkout on one thread, timed
    # in this process right after: what the threads buy at this load.
    same_process = args.threads == 0 and not args.baseline_python
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        if burners:
            time.sleep(2.0)  # let the load average notice them
        load = os.getloadavg()
        threads = "one thread" if args.threads == 1 else f"library threads (OpenCV {cv2.getNumThreads()})"
        print(f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, {os.cpu_count()} cores, "
              f"{args.load} busy processes beside it, {args.frames} frames, H.264 CRF 23, {threads}; "
              "cells: wall / CPU s (v1 share of CPU)", flush=True)
        if same_process:
            head = "| size (W x H) | library threads | one thread | wall ratio (one / library) | found |"
        else:
            head = "| size (W x H) | this checkout | baseline | CPU ratio (baseline / this) | found |"
        print(head + "\n|---|---|---|---|---|", flush=True)
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            frames = encode(content_video("textured", args.frames, height, width, seed=5), threads=1)
            new = measure(frames, args.repeat)
            old = None
            if args.baseline_python:
                old = baseline(args.baseline_python, frames, args.repeat, args.threads)
            elif same_process:
                old = _one_thread(functools.partial(measure, frames, args.repeat))
            ratio = f"{old['total'][1] / new['total'][1]:.1f}x" if old else "-"
            if same_process:
                ratio = f"{old['total'][0] / new['total'][0]:.2f}x"
            found = f"{new['found']}" + (f" / {old['found']}" if old else "")
            print(f"| {size} | {_cell(new)} | {_cell(old) if old else '-'} | {ratio} | {found} |", flush=True)
        load = os.getloadavg()
        print(f"load average at the end {load[0]:.1f}", flush=True)
    finally:
        for burner in burners:
            burner.kill()


if __name__ == "__main__":
    main(_parser().parse_args())
