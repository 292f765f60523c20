"""Small faces in large frames: the fallback's upsampled HOG pass, side by side without it.

    nice .venv/bin/python bench/bench_small_faces.py [--sizes 30,40,50,60,70,80,100,130]

- **Found:** scikit-image's astronaut (frontal) and cameraman (a 3/4 view), their heads scaled so the face
  is about N pixels wide and pasted into a 1024x683 photograph (scikit-image's coffee), each screened as
  an image-to-video input with the default policy: held for review (a face found) or allowed.
- **False holds:** the benchmark's images without people (`bench_faces.benign_set`, scikit-image's
  photographs, noise, gradients, rendered text), each scaled to 720 and to 1024 pixels on its longer side
  (the sizes the pass applies to), screened the same way.
- **Protected person:** the astronaut's head at each size, her frontal photo as a protected reference, a
  tenant that attests consent (faces pass, protected persons block): blocked or allowed, and the distance.
- **Cost on a video:** 20 face-free 1024x576 frames (every fallback frame pays the pass).

Each input is screened twice in this process, alternating: by the shipped screen, and by the same screen
with ``FaceAnalyzer.upsample_small_faces`` off (the cascade before the pass: HOG, mirrored HOG, the
CNN). Wall seconds per screen are printed too (the CNN runs whenever no face is found; one thread).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_faces import benign_set, resized

from veriframe.safety import default_policy
from veriframe.safety.media import default_screener
from veriframe.safety.media.faces import reference_embedding
from veriframe.safety.media.frames import as_rgb8
from veriframe.safety.policy import MediaPolicy, ProtectedFace

#: (name, head crop, face width in the crop, pixels)
SUBJECTS = (
    ("astronaut", lambda: as_rgb8(data.astronaut())[20:220, 140:320], 120),
    ("cameraman 3/4", lambda: as_rgb8(data.camera())[30:260, 150:360], 110),
)


def composite(head: np.ndarray, face_width: int, target: int) -> np.ndarray:
    scale = target / face_width
    size = (round(head.shape[1] * scale), round(head.shape[0] * scale))
    small = np.asarray(Image.fromarray(head).resize(size, Image.BILINEAR))
    photo = np.asarray(Image.fromarray(as_rgb8(data.coffee())).resize((1024, 683), Image.BILINEAR)).copy()
    photo[300 : 300 + small.shape[0], 500 : 500 + small.shape[1]] = small
    return photo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30,40,50,60,70,80,100,130", help="face widths, pixels")
    args = ap.parse_args()
    screener, policy = default_screener(), default_policy()
    analyzer = screener.faces()

    def screen(image: np.ndarray | list[np.ndarray], with_pass: bool, use=policy) -> tuple[str, float]:
        analyzer.upsample_small_faces = with_pass
        start = time.perf_counter()
        decision = screener.screen(image if isinstance(image, list) else [image], use, kind="input")
        distance = decision.scores.get("match_distance")
        label = decision.decision + (f" ({distance:.2f})" if distance is not None else "")
        return label, time.perf_counter() - start

    screen(composite(SUBJECTS[0][1](), SUBJECTS[0][2], 60), True)  # warm-up: the fallback process starts
    print(f"# bench_small_faces {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.1f}, one thread", flush=True)
    print("\n| subject | face px | with the pass | s | without (before) | s |\n|---|---|---|---|---|---|")
    for name, head, width in SUBJECTS:
        for target in (int(v) for v in args.sizes.split(",")):
            photo = composite(head(), width, target)
            (new, t_new), (old, t_old) = screen(photo, True), screen(photo, False)
            print(f"| {name} | {target} | {new} | {t_new:.2f} | {old} | {t_old:.2f} |", flush=True)

    ref = reference_embedding(as_rgb8(data.astronaut())[:300, 50:350], analyzer, single=True)
    media = MediaPolicy(consent_attested=True, protected_faces=(ProtectedFace("astronaut", ref),))
    protected = policy.new_version("bench", schema=2, media=media)
    print("\n| protected astronaut, consent attested: face px | with the pass | without (before) |")
    print("|---|---|---|")
    for target in (int(v) for v in args.sizes.split(",")):
        photo = composite(SUBJECTS[0][1](), SUBJECTS[0][2], target)
        (new, _), (old, _) = screen(photo, True, protected), screen(photo, False, protected)
        print(f"| {target} | {new} | {old} |", flush=True)

    held = {True: [], False: []}
    times: dict[bool, list[float]] = {True: [], False: []}
    count = 0
    for key, image in benign_set().items():
        if key.startswith("lfw"):
            continue  # 200x200 patches: under the pass's size
        for side in (720, 1024):
            frame = resized(image, side)
            count += 1
            for with_pass in (True, False):
                decision, seconds = screen(frame, with_pass)
                times[with_pass].append(seconds)
                if decision != "allow":
                    held[with_pass].append(f"{key}@{side}")
    print(f"\nImages without people: {count}. Held with the pass: {len(held[True])} {held[True]}; without: "
          f"{len(held[False])} {held[False]}. Seconds per screen, median / max: with "
          f"{statistics.median(times[True]):.2f} / {max(times[True]):.2f}, without "
          f"{statistics.median(times[False]):.2f} / {max(times[False]):.2f}. "
          f"Upsampled passes {analyzer.upsampled_calls}, crop confirmations {analyzer.confirm_calls}.")
    empty = np.asarray(Image.fromarray(as_rgb8(data.coffee())).resize((1024, 576), Image.BILINEAR))
    (new, t_new), (old, t_old) = screen([empty] * 20, True), screen([empty] * 20, False)
    print(f"\nA face-free video of 20 frames of 1024x576: {new} in {t_new:.2f} s with the pass, {old} in "
          f"{t_old:.2f} s without.")
    analyzer.upsample_small_faces = True


if __name__ == "__main__":
    main()
