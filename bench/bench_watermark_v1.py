"""Old (v1-marked) files still verify: detection of v1 files after the attacks v1 was built to survive,
by this checkout and, side by side on the same bytes, by a baseline checkout.

    nice .venv/bin/python bench/bench_watermark_v1.py [--frames 16]
        [--baseline-python /work/main/.venv/bin/python]

Four contents (``synthetic.content_video``) marked with ``watermark_v1.embed_frames`` at 720x480,
1280x720, 1024x576 (a size no standard size explains) and 256x256, then re-encoded (H.264, one encoder
thread), cropped, rescaled, brightened or thinned out in time. Every attacked video is saved once;
``watermark.detect_frames`` (v2 first, then the v1 fallback) reads each, here and in the baseline
interpreter (a subprocess started from a neutral directory, so that it imports its own code).
Prints, per case and content, whether the id came back and with which registration, and the CPU time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.video_attacks import encode, resize
from veriframe.provenance import watermark_v1
from veriframe.provenance.synthetic import content_video

PID = 0xFEEDFACE12345678
CONTENTS = (("textured", 21), ("sky", 3), ("night", 4), ("motion", 5))

#: Run by this and by the baseline interpreter over a folder of saved cases; prints JSON.
_DETECT = """
import json, os, sys, time
import cv2, numpy as np
cv2.setNumThreads(1)
from veriframe.provenance import watermark, watermark_v1
if hasattr(watermark_v1, "default_workers"):  # checkouts before provenance.parallel (2026-12-08)
    watermark_v1.default_workers = lambda: 1
else:
    from veriframe.provenance import parallel
    parallel.default_workers = lambda: 1
out = {}
for name in sorted(os.listdir(sys.argv[1])):
    frames = np.load(os.path.join(sys.argv[1], name))
    cpu = time.process_time()
    result = watermark.detect_frames(frames)
    out[name[:-4]] = [result.provenance_id == int(sys.argv[2]), result.registration,
                      round(time.process_time() - cpu, 3)]
print(json.dumps(out))
"""


def cases(kind: str, seed: int, frames_n: int) -> dict[str, np.ndarray]:
    """The attacked v1 files of one content (name -> frames)."""
    def enc(f: np.ndarray, crf: int = 23) -> np.ndarray:
        return encode(f, crf=crf, threads=1)

    m = watermark_v1.embed_frames(content_video(kind, frames_n, 480, 720, seed=seed), PID)
    out = {f"720x480 CRF {c}": enc(m, c) for c in (23, 28, 30, 32)}
    out["720x480 brightness +10% CRF 23"] = enc(np.clip(m * 1.1, 0, 255).astype(np.uint8))
    out["720x480 scaled 50%"] = resize(m, 360, 240)
    out["720x480 scaled 50% CRF 23"] = enc(resize(m, 360, 240))
    for c in (23, 28, 30):
        out[f"720x480 crop 10% CRF {c}"] = enc(m[:, 24:456, 36:684], c)
    out["720x480 crop 600x400 at (5,13) CRF 23"] = enc(m[:, 13:413, 5:605])
    out["720x480 every other frame CRF 23"] = enc(m[::2])
    out["720x480 single frame"] = m[frames_n // 2 : frames_n // 2 + 1]
    big = watermark_v1.embed_frames(content_video(kind, frames_n, 720, 1280, seed=seed), PID)
    out["1280x720 CRF 28"] = enc(big, 28)
    out["1280x720 scaled to 640x360 CRF 23"] = enc(resize(big, 640, 360))
    out["1280x720 crop 10% CRF 23"] = enc(big[:, 36:684, 64:1216])
    for width, height in ((1024, 576), (256, 256)):
        frames = content_video(kind, frames_n, height, width, seed=seed)
        out[f"{width}x{height} CRF 23"] = enc(watermark_v1.embed_frames(frames, PID))
    return {f"{name} | {kind}": f for name, f in out.items()}


def detect(python: str, folder: Path) -> dict:
    done = subprocess.run([python, "-c", _DETECT, str(folder), str(PID)], cwd=folder, check=True,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--baseline-python", default=None, help="interpreter of the checkout to compare with")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; {args.frames} frames a file",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, seed in CONTENTS:
            for name, frames in cases(kind, seed, args.frames).items():
                np.save(Path(tmp) / f"{name.replace(' ', '_').replace('/', '-')}.npy", frames)
        new = detect(sys.executable, Path(tmp))
        old = detect(args.baseline_python, Path(tmp)) if args.baseline_python else {}
    print("| v1 file, content | this checkout | CPU s | baseline | CPU s |\n|---|---|---|---|---|")
    for name, (ok, how, cpu) in new.items():
        base = old.get(name)
        cells = f"{'yes' if ok else '**none**'} ({how}) | {cpu:.2f}"
        cells += f" | {'yes' if base[0] else '**none**'} ({base[1]}) | {base[2]:.2f}" if base else " | - | -"
        print(f"| {name.replace('_', ' ')} | {cells} |")
    totals = [sum(v[0] for v in d.values()) for d in (new, old) if d]
    cpu = [sum(v[2] for v in d.values()) for d in (new, old) if d]
    print(f"\nRecovered: this checkout {totals[0]} of {len(new)}" +
          (f", baseline {totals[1]} of {len(old)}" if old else "") +
          f"; CPU total {' vs '.join(f'{c:.1f} s' for c in cpu)}")


if __name__ == "__main__":
    main()
