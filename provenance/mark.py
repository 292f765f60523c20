"""Watermark + encode + sign: exactly what the service does to every generated video.

``mark_video`` is the single place this happens (the service workflow and ``veriframe provenance mark``
both call it), so what is tested here is what ships.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from veriframe.provenance import media
from veriframe.provenance.ids import new_provenance_id
from veriframe.provenance.keys import SigningKeys
from veriframe.provenance.layout import sniff
from veriframe.provenance.manifest import InputFile, ManifestInfo
from veriframe.provenance.signing import manifest_sha256, sign_mp4, sign_png
from veriframe.provenance.watermark import (
    WATERMARK_ALGORITHM,
    UnreadableMark,
    detect_frames,
    embed_frames,
    readable_after_encoding,
)


@dataclass(frozen=True)
class MarkResult:
    provenance_id: int
    mp4_path: Path
    manifest: bytes  # the C2PA manifest store embedded in the MP4
    manifest_sha256: str
    content_sha256: str  # SHA-256 of the signed MP4 file
    frame_paths: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: watermark, encode, sign, frames
    #: The algorithm actually embedded (v2, or v1 where the v2 mark could not be read back): what the
    #: manifest names and what the service must record in its ledger.
    watermark_algorithm: str = WATERMARK_ALGORITHM


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_input(path: str | Path) -> InputFile:
    """An i2v/v2v input file as :class:`ManifestInfo.input` wants it (media type sniffed, SHA-256)."""
    path = Path(path)
    with open(path, "rb") as handle:
        media_type = sniff(handle.read(16))
    if media_type is None:
        raise media.MediaError(f"{path}: not an MP4, PNG, JPEG or WebP file")
    return InputFile(path, media_type, _sha256_file(path),
                     "input video" if media_type == "video/mp4" else "input image")


def _export_frames(marked: np.ndarray, tmp: Path, target: Path, video: Path, info: ManifestInfo,
                   keys: SigningKeys) -> list[Path]:
    """Write and sign every frame as ``target/frame_NNNN.png`` (the names ``media.write_pngs`` uses).

    PNG compression dominates (~0.25 s a 720x480 frame) and releases the GIL, so frames go through a
    thread pool.
    """
    target.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(marked) - 1)))

    def export(index: int) -> Path:
        name = f"frame_{index:0{digits}d}.png"
        media.write_png(marked[index], tmp / name)
        sign_png(tmp / name, target / name, info, keys, parent_mp4=video, frame_index=index)
        return target / name

    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1))) as pool:
        return list(pool.map(export, range(len(marked))))


def mark_video(frames: np.ndarray, fps: int, out_mp4: str | Path, info: ManifestInfo, keys: SigningKeys, *,
               frames_dir: str | Path | None = None, crf: int = media.DEFAULT_CRF) -> MarkResult:
    """Watermark every frame with ``info.provenance_id``, encode H.264 MP4, sign it, optionally export
    every frame as a signed PNG (``frames_dir/frame_NNNN.png``, each naming the video as its parent).

    The signed MP4 is written last-step atomically; on any failure nothing is left at ``out_mp4``.
    """
    out = Path(out_mp4)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    marked = embed_frames(frames, info.provenance_id)
    timings["watermark"] = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix=".veriframe-", dir=out.parent) as tmp:
        unsigned = Path(tmp) / "unsigned.mp4"
        start = time.perf_counter()
        media.encode_mp4(marked, fps, unsigned, crf=crf)
        timings["encode"] = time.perf_counter() - start
        # Never release a mark the verifier cannot read: on noise-like pictures (e.g. a random-weight
        # test model's output) the v2 tile can drown; such videos carry the v1 mark instead, and one
        # that carries neither is not released (the caller fails the job: a new seed usually works).
        start = time.perf_counter()
        exported = frames_dir is not None  # then every frame must verify on its own, as its PNG will
        if not _verifiable(unsigned, marked if exported else None, info.provenance_id):
            from veriframe.provenance import watermark_v1

            marked = watermark_v1.embed_frames(frames, info.provenance_id)
            media.encode_mp4(marked, fps, unsigned, crf=crf)
            info = replace(info, watermark_algorithm=watermark_v1.WATERMARK_ALGORITHM)
            if not _verifiable(unsigned, marked if exported else None, info.provenance_id):
                raise UnreadableMark("neither watermark reads back from this video after encoding "
                                     "(too little texture to carry it); it was not released")
        timings["readback"] = time.perf_counter() - start
        start = time.perf_counter()
        manifest = sign_mp4(unsigned, out, info, keys)
        timings["sign"] = time.perf_counter() - start
        frame_paths: list[Path] = []
        if frames_dir is not None:
            start = time.perf_counter()
            frame_paths = _export_frames(marked, Path(tmp), Path(frames_dir), out, info, keys)
            timings["frames"] = time.perf_counter() - start
    return MarkResult(info.provenance_id, out, manifest, manifest_sha256(manifest), _sha256_file(out),
                      frame_paths, timings, info.watermark_algorithm or WATERMARK_ALGORITHM)


def _verifiable(mp4: Path, frames: np.ndarray | None, provenance_id: int) -> bool:
    """Whether the verifier reads ``provenance_id`` from the encoded video and, when ``frames`` are
    exported, from every single frame as its signed PNG keeps it (a check of the first, middle and last
    frames released a PNG in between that did not verify; v2 reads one frame in ~10 ms)."""
    if not readable_after_encoding(mp4, provenance_id):
        return False
    for index in range(len(frames) if frames is not None else 0):
        reading = detect_frames(frames[index : index + 1])
        if not reading.found or reading.provenance_id != provenance_id:
            return False
    return True


def mark_file(
    in_path: str | Path,
    out_mp4: str | Path,
    keys: SigningKeys,
    *,
    info: ManifestInfo | None = None,
    frames_dir: str | Path | None = None,
    max_pixels: int | None = 4096 * 4096,
) -> MarkResult:
    """Apply the service's watermark and manifest to an existing video file.

    Without ``info`` a new provenance id is drawn and the manifest names an external source
    (model "external", no audit record).
    """
    frames, fps = media.decode_video(in_path, max_pixels=max_pixels)
    if abs(fps - round(fps)) > 1e-3:
        raise media.MediaError(f"{in_path}: frame rate {fps:g} is not a whole number (the encoder needs one)")
    if info is None:
        info = ManifestInfo(provenance_id=new_provenance_id(), model_name="external", model_version="",
                            audit_ref="", params={"source": Path(in_path).name})
    return mark_video(frames, round(fps), out_mp4, info, keys, frames_dir=frames_dir)
