"""Concurrent media inputs on one face analyzer: the CNN in a process of its own behind its own lock
(since 2026-12-03) against the CNN in the server's process behind the one lock of every dlib call (the
layout before), side by side in this run.

    python bench/bench_face_locks.py [--rounds 3]

Each round starts a face-free input (its HOG stages find nothing, so the CNN fallback runs on
``MAX_CNN_FRAMES`` frames, seconds each) and, once its CNN is running (``--delay``, 1.5 s), an input
with a frontal face (HOG finds it: no CNN). Printed: how long the face input waited for its answer, and
the face-free one's time, with each layout. In-process, dlib's calls hold the GIL and the lock: the
face input waits out the other's CNN frames; with the CNN in its own process it does not.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np
from PIL import Image
from skimage import data as skdata

from veriframe.safety import default_policy
from veriframe.safety.media import faces
from veriframe.safety.media.faces import FaceAnalyzer
from veriframe.safety.media.frames import as_rgb8
from veriframe.safety.media.screen import MediaScreener


def _resized(a: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize((w, h)))


class InProcessAnalyzer(FaceAnalyzer):
    """The baseline: the CNN in this process, every dlib call behind one lock."""

    def __init__(self) -> None:
        super().__init__()
        self._cnn_lock = self._lock

    def _cnn_process(self, small: np.ndarray) -> list[tuple[float, int, int, int, int]]:
        return faces._cnn_detections(small)


def round_trip(
    screener: MediaScreener, face_free: list, with_face: list, policy, delay: float
) -> tuple[float, float]:
    """(seconds the face input took, seconds the face-free input took), started ``delay`` s apart."""
    times: dict[str, float] = {}

    def run(name: str, frames: list) -> None:
        start = time.perf_counter()
        screener.screen(frames, policy)
        times[name] = time.perf_counter() - start

    slow = threading.Thread(target=run, args=("face_free", face_free))
    slow.start()
    time.sleep(delay)
    run("face", with_face)
    slow.join()
    return times["face"], times["face_free"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.5, help="seconds between the two inputs")
    args = parser.parse_args()
    policy = default_policy()
    face_free = [_resized(as_rgb8(skdata.coffee()), 640, 427)] * 8
    with_face = [_resized(as_rgb8(skdata.astronaut()), 640, 640)]
    layouts = {"in-process, one lock": MediaScreener(faces=InProcessAnalyzer()),
               "CNN process (now)": MediaScreener(faces=FaceAnalyzer())}
    for screener in layouts.values():  # load the nudity model and warm both paths once
        screener.screen(with_face, policy)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in layouts}
    for r in range(args.rounds):
        order = list(layouts) if r % 2 == 0 else list(layouts)[::-1]
        for name in order:
            face, free = round_trip(layouts[name], face_free, with_face, policy, args.delay)
            results[name].append((face, free))
            print(f"round {r} {name}: face input {face:.2f} s, face-free input {free:.2f} s", flush=True)
    print(f"\nmedian of {args.rounds} rounds:")
    base = statistics.median(f for f, _ in results["in-process, one lock"])
    for name, rows in results.items():
        face = statistics.median(f for f, _ in rows)
        free = statistics.median(x for _, x in rows)
        print(f"  {name:22s} face input {face:6.2f} s ({face / base:.2f}x the in-process time), "
              f"face-free input {free:6.2f} s")


if __name__ == "__main__":
    main()
