"""Face detection for media screening: what each stage finds, its false hits and its cost (one thread).

    nice .venv/bin/python bench/bench_faces.py [--repeat 3] [--json out.json]

- **Found:** faces in real photographs, by stage (HOG, HOG on the mirrored frame, the CNN fallback):
  scikit-image's LFW subset (its 100 faces, 25x25, upscaled to 200x200), the astronaut and the
  cameraman (a 3/4 view) rotated in-plane, mirrored and scaled down.
- **False hits:** scikit-image's bundled photographs without people plus synthetic images (noise,
  gradients, rendered text), and LFW subset's 100 non-face patches: every detection any stage reports,
  with the CNN's raw confidence (dlib reports detections above 0).
- **Confirmation:** every face the cascade finds in the face images, protected with its own embedding
  (distance 0): blocked (HOG faces confirmed by the CNN on a crop around the box, CNN faces as found) or
  held as unconfirmed, with the HOG score of each held one; the astronaut with the cameraman protected
  (HOG's false hit on her suit lies within the match distance of him); ms per confirmation.
- **Cost:** wall and CPU ms per call (best of ``--repeat`` after a warm-up) of HOG, mirrored HOG and
  the CNN at several frame sizes, the worst case for one image (no face: all three stages) and for one
  video (48 face-free frames with a protected face in the policy: every frame's HOG stages, then the
  CNN on at most ``MAX_CNN_FRAMES``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data, transform

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from veriframe.safety import default_policy
from veriframe.safety.media import faces as faces_mod
from veriframe.safety.media.faces import FaceAnalyzer, cnn_input, reference_embedding
from veriframe.safety.media.frames import as_rgb8
from veriframe.safety.media.screen import _face_hits, default_screener
from veriframe.safety.policy import MediaPolicy, ProtectedFace

BENIGN = [
    "coffee",
    "chelsea",
    "rocket",
    "coins",
    "page",
    "moon",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "brick",
    "grass",
    "gravel",
    "cell",
    "retina",
    "microaneurysms",
    "clock",
    "colorwheel",
    "text",
]


rgb = as_rgb8


def resized(a: np.ndarray, side: int) -> np.ndarray:
    h, w = a.shape[:2]
    s = side / max(h, w)
    return np.asarray(Image.fromarray(a).resize((round(w * s), round(h * s)), Image.BILINEAR))


def rotated(a: np.ndarray, degrees: float) -> np.ndarray:
    return rgb(transform.rotate(a, degrees))


def face_set() -> dict[str, np.ndarray]:
    lfw = data.lfw_subset()  # the first 100 are faces, the last 100 are not
    out = {f"lfw{i}": resized(rgb(lfw[i]), 200) for i in range(100)}
    for name in ("astronaut", "camera"):
        a = rgb(getattr(data, name)())
        for deg in (0, 15, 30, 45, 60, 90, -30, -45):
            out[f"{name} rot{deg}"] = rotated(a, deg)
        out[f"{name} mirrored"] = np.ascontiguousarray(a[:, ::-1])
        for side in (400, 320, 256):
            out[f"{name} @{side}"] = resized(a, side)
    return out


def benign_set() -> dict[str, np.ndarray]:
    out = {name: rgb(getattr(data, name)()) for name in BENIGN}
    out = {k: resized(v, 1024) if max(v.shape[:2]) > 1024 else v for k, v in out.items()}
    rng = np.random.default_rng(0)
    out["noise 720x480"] = rng.integers(0, 256, (480, 720, 3), dtype=np.uint8)
    x = np.linspace(0, 255, 720)
    out["gradient"] = np.ascontiguousarray(np.broadcast_to(x[None, :, None], (480, 720, 3)).astype(np.uint8))
    y, xx = np.mgrid[0:480, 0:720] / np.array([480, 720])[:, None, None]
    out["radial gradient"] = rgb(np.stack([np.hypot(y - 0.5, xx - 0.5) * 1.4, y, xx], -1))
    page = Image.new("RGB", (720, 480), "white")
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=24)
    for i in range(12):
        draw.text(
            (20, 20 + 36 * i), "The quick brown fox jumps over the lazy dog :) (o_o) 0123", "black", font
        )
    out["rendered text"] = np.asarray(page)
    lfw = data.lfw_subset()
    for i in range(100, 200):
        out[f"lfw non-face {i}"] = resized(rgb(lfw[i]), 200)
    return out


def stages(fa: FaceAnalyzer, frame: np.ndarray) -> dict[str, list[float]]:
    """Detections of each stage run on its own (HOG scores, CNN confidences) without the cascade."""
    up = 1 if max(frame.shape[:2]) < 640 else 0
    hog = list(fa._detector.run(frame, up, 0.0)[1])
    mirrored = list(fa._detector.run(np.ascontiguousarray(frame[:, ::-1]), up, 0.0)[1])
    cnn = [d.confidence for d in fa._cnn(cnn_input(frame)[0], 0)]
    return {"hog": hog, "hog-mirrored": mirrored, "cnn": cnn}


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, ((time.perf_counter() - w) * 1e3, (time.process_time() - c) * 1e3))
    return round(best[0], 1), round(best[1], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--costs-only", action="store_true", help="skip the found / false-hit / confirmation sets (~8 min)"
    )
    args = ap.parse_args()
    fa = FaceAnalyzer()
    report: dict = {"load": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    if not args.costs_only:
        found_and_false_hits(fa, report)
        confirmation(fa, report)
    costs_section(fa, report, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def found_and_false_hits(fa: FaceAnalyzer, report: dict) -> None:
    found = {"images": 0, "hog": 0, "hog+mirrored": 0, "cascade (with cnn)": 0, "cnn alone": 0}
    missed, cnn_conf = [], []
    for name, img in face_set().items():
        s = stages(fa, img)
        hog, mir, cnn = (
            bool(s["hog"]),
            bool(s["hog-mirrored"]),
            any(c >= faces_mod.CNN_MIN_CONFIDENCE for c in s["cnn"]),
        )
        found["images"] += 1
        found["hog"] += hog
        found["hog+mirrored"] += hog or mir
        found["cascade (with cnn)"] += hog or mir or cnn
        found["cnn alone"] += cnn
        cnn_conf += s["cnn"]
        if not (hog or mir or cnn):
            missed.append(name)
        elif not hog:
            missed.append(f"{name} (HOG missed; found by {'mirrored HOG' if mir else 'CNN'})")
    report["found"], report["face_images_not_found_by_hog"] = found, missed
    report["cnn_confidence_on_faces"] = [round(min(cnn_conf), 3), round(float(np.median(cnn_conf)), 3)]
    print(json.dumps(report["found"]), "\n", "\n ".join(missed), flush=True)
    print("cnn confidence on faces (min, median):", report["cnn_confidence_on_faces"])

    false_hits = {}
    for name, img in benign_set().items():
        s = stages(fa, img)
        if any(s.values()):
            false_hits[name] = {k: [round(x, 3) for x in v] for k, v in s.items() if v}
    report["false_hits"] = false_hits
    print("false hits (any stage, raw scores):", json.dumps(false_hits), flush=True)


def confirmation(fa: FaceAnalyzer, report: dict) -> None:
    out = {"faces": 0, "blocked": 0, "held unconfirmed": [], "confirm ms (wall)": []}
    for name, img in face_set().items():
        up = 1 if max(img.shape[:2]) < 640 else 0
        hog_scores = {
            (r.left(), r.top(), r.right(), r.bottom()): s
            for r, s, _ in zip(*fa._detector.run(img, up, 0.0), strict=True)
        }
        for face in fa.faces(img):
            if face.detector != "cnn":
                t = time.perf_counter()
                fa.confirmed(img, face)
                out["confirm ms (wall)"].append((time.perf_counter() - t) * 1e3)
            own = _policy(ProtectedFace("Own", tuple(float(x) for x in face.embedding)))
            hits, _ = _face_hits(fa, [img], own, "output")
            out["faces"] += 1
            if hits[0][0] == "block":
                out["blocked"] += 1
            else:
                score = round(hog_scores.get(face.box, float("nan")), 3)
                out["held unconfirmed"].append(f"{name} {face.detector} box {face.box} hog score {score}")
    ms = np.array(out.pop("confirm ms (wall)"))
    out["confirm ms (wall): median, p90, max"] = [
        round(float(np.percentile(ms, q)), 1) for q in (50, 90, 100)
    ]
    out["confirmations timed"] = len(ms)
    cameraman = reference_embedding(rgb(data.camera()), fa, single=True)
    screened = default_screener().screen(
        [rgb(data.astronaut())],
        default_policy().new_version(
            "bench",
            schema=2,
            media=MediaPolicy(
                consent_attested=True, protected_faces=(ProtectedFace("Cameraman", cameraman),)
            ),
        ),
    )
    out["astronaut, cameraman protected"] = [
        screened.decision,
        screened.rule,
        screened.scores["match_distance"],
    ]
    report["confirmation"] = out
    print("confirmation:", json.dumps(out, indent=1), flush=True)


def _policy(face: ProtectedFace) -> MediaPolicy:
    return (
        default_policy()
        .new_version("bench", schema=2, media=MediaPolicy(protected_faces=(face,)))
        .media_policy
    )


def costs_section(fa: FaceAnalyzer, report: dict, repeat: int) -> None:

    base = rgb(data.astronaut())
    empty = rgb(data.coffee())
    costs = {}
    for w, h in ((720, 480), (1024, 683), (1024, 576), (256, 256)):
        frame = np.asarray(Image.fromarray(empty).resize((w, h)))
        costs[f"{w}x{h} hog"] = timed(
            lambda f=frame: fa._detector(f, 1 if max(f.shape[:2]) < 640 else 0), repeat
        )
        costs[f"{w}x{h} hog stages (no face: plain + mirrored)"] = timed(lambda f=frame: fa._hog(f), repeat)
        costs[f"{w}x{h} cnn fallback (scaled to ~{faces_mod.CNN_PIXELS} px)"] = timed(
            lambda f=frame: fa._cnn_rects(f), repeat
        )
        costs[f"{w}x{h} one image, no face (all stages)"] = timed(
            lambda f=frame: fa.faces(f, embed=False), repeat
        )
    frame = np.asarray(Image.fromarray(empty).resize((720, 480)))
    for side in (720, 640, 480):
        small = resized(frame, side)
        costs[f"cnn on the raw net, 720x480 frame at longer side {side}"] = timed(
            lambda f=small: fa._cnn(f, 0), 1
        )
    face = np.zeros((480, 720, 3), np.uint8)
    face[:, 104:616] = base[:480]
    rect = fa._detector(face, 0)[0]
    costs["landmarks + embedding, one face"] = timed(
        lambda: fa._encoder.compute_face_descriptor(face, fa._landmarks(face, rect)), repeat
    )
    (hog_face,) = fa.faces(face, embed=False)
    costs[f"confirming one HOG face ({hog_face.box[2] - hog_face.box[0]} px box) on a crop"] = timed(
        lambda: fa.confirmed(face, hog_face), repeat
    )

    policy = (
        default_policy()
        .new_version(
            "bench",
            schema=2,
            media=MediaPolicy(protected_faces=(ProtectedFace("Reference", reference_embedding(base, fa)),)),
        )
        .media_policy
    )
    video = [np.asarray(Image.fromarray(empty).resize((1024, 576)))] * 48
    before = fa.cnn_calls
    costs["one video, 48 face-free 1024x576 frames, protected faces set"] = timed(
        lambda: _face_hits(fa, video, policy, "input"), 1
    )
    report["cnn_calls_per_video"] = (fa.cnn_calls - before) // 2
    report["costs_ms_wall_cpu"] = costs
    for k, v in costs.items():
        print(f"{k}: {v[0]} ms wall, {v[1]} ms cpu", flush=True)
    print("cnn calls per video:", report["cnn_calls_per_video"])


if __name__ == "__main__":
    main()
