"""Realistic human faces and who they are: dlib's HOG detector, 5-point landmarks and ResNet embedding.

- Detector: dlib's frontal-face HOG detector, built into dlib (``dlib-bin`` wheel, Boost Software
  License). It finds frontal and slightly turned photographic faces (~33 ms a 720x480 frame); drawn
  or cartoon faces rarely trigger it, painted realistic ones can.
- Landmarks: ``shape_predictor_5_face_landmarks.dat`` and the embedding model
  ``dlib_face_recognition_resnet_model_v1.dat`` from the ``face-recognition-models`` wheel (MIT package;
  the model files were released into the public domain by their author). The 68-point model in the
  same wheel is never loaded: its training data (iBUG 300-W) is licensed for non-commercial use only.
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


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # left, top, right, bottom
    embedding: np.ndarray | None  # 128-d, or None when only detection ran


class FaceAnalyzer:
    """Detect faces in RGB frames and embed them (dlib)."""

    name = "dlib hog + resnet_v1 (5-point)"

    def __init__(self) -> None:
        import dlib

        self._lock = threading.Lock()
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(_model_file("shape_predictor_5_face_landmarks.dat"))
        self._encoder = dlib.face_recognition_model_v1(
            _model_file("dlib_face_recognition_resnet_model_v1.dat")
        )

    def faces(self, frame: np.ndarray, *, embed: bool = True) -> list[Face]:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        # Small frames are upsampled once so faces of ~40 px are still found.
        upsample = 1 if max(frame.shape[:2]) < 640 else 0
        # dlib's detector and models are not safe to share between threads (concurrent calls returned
        # 116 "faces" for a one-face photo): Submit's threads and the worker's output screening share one.
        with self._lock:
            return self._faces(frame, upsample, embed)

    def _faces(self, frame: np.ndarray, upsample: int, embed: bool) -> list[Face]:
        out = []
        for rect in self._detector(frame, upsample):
            emb = None
            if embed:
                shape = self._landmarks(frame, rect)
                emb = np.array(self._encoder.compute_face_descriptor(frame, shape), dtype=np.float32)
            out.append(Face((rect.left(), rect.top(), rect.right(), rect.bottom()), emb))
        return out


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
