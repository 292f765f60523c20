"""Verify a video or image: C2PA manifest (signature, hard binding, trust), watermark, and that they agree.

``verify_file`` never raises for a *negative* result (tampered, untrusted, no watermark...): that is a
report with ``verdict = "not_verified"`` and the reasons. It raises :class:`UnreadableInput` only when
the file is not a readable MP4, PNG or JPEG at all (the CLI's exit code 2).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veriframe.provenance import media
from veriframe.provenance.ids import format_id
from veriframe.provenance.manifest import VERIFRAME_ASSERTION

SCHEMA = "veriframe.verify/1"
TRUST_ANCHORS_ENV = "VERIFRAME_TRUST_ANCHORS"
MAX_FILE_BYTES = 2 << 30
MAX_PIXELS = 4096 * 4096
#: Frames the watermark detector looks at (evenly spaced, decoded as a stream: a video of any length
#: holds at most this many frames in memory): plenty of evidence, bounded memory.
DETECT_FRAMES = 64
_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
_TRUST_CODES = ("signingCredential.untrusted",)


class UnreadableInput(media.MediaError):
    """The file is missing, unreadable, or not an MP4, PNG or JPEG."""


@dataclass
class WatermarkReport:
    found: bool = False
    id: str | None = None
    confidence: float = 0.0
    frames_analyzed: int = 0
    registration: str = ""
    error: str | None = None


@dataclass
class C2paReport:
    present: bool = False
    valid: bool = False
    trusted: bool = False
    validation_state: str | None = None
    errors: list[str] = field(default_factory=list)
    signer: str | None = None
    claim_generator: str | None = None
    manifest_label: str | None = None
    manifest_sha256: str | None = None
    provenance_id: str | None = None
    model: dict[str, Any] | None = None
    audit_ref: str | None = None
    digital_source_type: str | None = None


@dataclass
class VerificationReport:
    file: str
    media_type: str
    watermark: WatermarkReport
    c2pa: C2paReport
    consistent: bool | None
    reasons: list[str]
    audit: dict[str, Any] | None = None  # filled by the --server lookup when available

    @property
    def verified(self) -> bool:
        return not self.reasons

    @property
    def verdict(self) -> str:
        return "verified" if self.verified else "not_verified"

    @property
    def manifest_sha256(self) -> str | None:
        return self.c2pa.manifest_sha256

    def summary(self) -> str:
        wm = (f"watermark found (id {self.watermark.id}, confidence {self.watermark.confidence:.2f})"
              if self.watermark.found else "no watermark")
        if not self.c2pa.present:
            manifest = "manifest missing"
        elif not self.c2pa.valid:
            manifest = "manifest INVALID"
        elif not self.c2pa.trusted:
            manifest = "manifest valid but signer untrusted"
        else:
            manifest = f"manifest valid and trusted ({self.c2pa.signer})"
        head = "VERIFIED" if self.verified else "NOT VERIFIED"
        line = f"{self.file}: {head}: {wm}, {manifest}"
        if self.consistent is False:
            line += f"; ids DIFFER (manifest {self.c2pa.provenance_id})"
        return line

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "file": self.file,
            "media_type": self.media_type,
            "verdict": self.verdict,
            "summary": self.summary(),
            "reasons": list(self.reasons),
            "watermark": vars(self.watermark).copy(),
            "c2pa": vars(self.c2pa).copy(),
            "consistent": self.consistent,
            "audit": self.audit,
        }


def error_json(file: str, error: str) -> dict[str, Any]:
    """The ``--json`` entry for a file that could not be read at all: the same schema as
    :meth:`VerificationReport.to_json` (so consumers need no special case), verdict ``"error"``,
    nothing found, and ``error`` saying why."""
    return {
        "schema": SCHEMA,
        "file": file,
        "media_type": None,
        "verdict": "error",
        "summary": f"{file}: ERROR: {error}",
        "reasons": [error],
        "watermark": vars(WatermarkReport(error=error)).copy(),
        "c2pa": vars(C2paReport(errors=[error])).copy(),
        "consistent": None,
        "audit": None,
        "error": error,
    }


def configured_trust_anchors() -> list[bytes]:
    """PEM trust anchors from the files listed in ``$VERIFRAME_TRUST_ANCHORS`` (os.pathsep-separated)."""
    from veriframe.provenance.keys import load_trust_anchors

    value = os.environ.get(TRUST_ANCHORS_ENV, "")
    return load_trust_anchors([p for p in value.split(os.pathsep) if p.strip()])


def _sniff(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


def embedded_manifest_store(data: bytes, media_type: str) -> bytes | None:
    """The raw C2PA manifest store embedded in an MP4 (C2PA ``uuid`` box) or PNG (``caBX`` chunk).

    These are the exact bytes ``signing.sign_*`` returned, so their SHA-256 matches the ledger's.
    """
    if media_type == "image/png":
        pos = 8
        while pos + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos : pos + 8])
            if kind == b"caBX":
                return data[pos + 8 : pos + 8 + length]
            pos += 12 + length
        return None
    if media_type == "video/mp4":
        pos = 0
        while pos + 8 <= len(data):
            size, kind = struct.unpack(">I4s", data[pos : pos + 8])
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
            elif size == 0:
                size = len(data) - pos
            if size < header:
                return None
            if kind == b"uuid" and data[pos + header : pos + header + 16] == _C2PA_UUID:
                body = data[pos + header + 16 : pos + size]
                purpose_end = body.find(b"\x00", 4)
                if body[4:purpose_end] == b"manifest":
                    return body[purpose_end + 1 + 8 :]
            pos += size
    return None


def _read_c2pa(data: bytes, media_type: str, trust_anchors: list[bytes]) -> C2paReport:
    import c2pa

    report = C2paReport()
    settings: dict[str, Any] = {"verify": {"verify_trust": True}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": b"\n".join(trust_anchors).decode()}
    try:
        context = c2pa.Context.from_dict(settings)
        reader = c2pa.Reader.try_create(media_type, io.BytesIO(data), context=context)
    except c2pa.C2paError as exc:
        report.present, report.errors = True, [f"manifest unreadable: {exc}"]
        return report
    if reader is None:
        return report
    with reader:
        report.present = True
        state = reader.get_validation_state()
        report.validation_state = state
        results = reader.get_validation_results() or {}
        failures = (results.get("activeManifest") or {}).get("failure", [])
        report.errors = [f"{f.get('code')}: {f.get('explanation', '')}".strip() for f in failures]
        report.valid = state in ("Valid", "Trusted")
        report.trusted = state == "Trusted"
        manifest = reader.get_active_manifest() or {}
    store = embedded_manifest_store(data, media_type)
    report.manifest_sha256 = hashlib.sha256(store).hexdigest() if store else None
    report.manifest_label = manifest.get("label")
    report.signer = (manifest.get("signature_info") or {}).get("common_name")
    generators = manifest.get("claim_generator_info") or []
    if generators:
        report.claim_generator = f"{generators[0].get('name')} {generators[0].get('version', '')}".strip()
    for assertion in manifest.get("assertions", []):
        label, content = assertion.get("label"), assertion.get("data") or {}
        if label == VERIFRAME_ASSERTION:
            report.provenance_id = content.get("provenance_id")
            report.model = content.get("model")
            report.audit_ref = content.get("audit_ref")
        elif label in ("c2pa.actions", "c2pa.actions.v2"):
            for action in content.get("actions", []):
                if action.get("digitalSourceType") and report.digital_source_type is None:
                    report.digital_source_type = action["digitalSourceType"]
    return report


def _detect(frames: np.ndarray) -> WatermarkReport:
    from veriframe.provenance.watermark import detect_frames

    result = detect_frames(frames)
    return WatermarkReport(found=result.found,
                           id=format_id(result.provenance_id) if result.provenance_id is not None else None,
                           confidence=result.confidence, frames_analyzed=len(frames),
                           registration=result.registration)


def verify_file(
    path: str | Path, *, trust_anchors: list[bytes] | tuple[bytes, ...] = ()
) -> VerificationReport:
    """Verify one MP4, PNG or JPEG file against ``trust_anchors`` (PEM bytes; see also
    :func:`configured_trust_anchors`)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UnreadableInput(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read ({exc.strerror or exc})") from exc
    media_type = _sniff(data[:16])
    if media_type is None:
        raise UnreadableInput(f"{path}: not an MP4, PNG or JPEG file")

    c2pa_report = _read_c2pa(data, media_type, list(trust_anchors))
    try:
        if media_type == "video/mp4":
            # Streamed: only the sampled frames are kept, so memory does not grow with the length.
            frames, _, _ = media.sample_frames(path, DETECT_FRAMES, max_pixels=MAX_PIXELS)
        else:
            frames = media.read_image(path, max_pixels=MAX_PIXELS)[None]
        watermark = _detect(frames)
    except media.MediaError as exc:
        # Undecodable pixels under a readable manifest are a (negative) finding; with neither, the
        # file is simply unreadable.
        if c2pa_report.validation_state is None:
            raise UnreadableInput(str(exc)) from exc
        watermark = WatermarkReport(error=f"pixels unreadable: {exc}")

    reasons = []
    if not watermark.found:
        reasons.append("no watermark found" if watermark.error is None else watermark.error)
    if not c2pa_report.present:
        reasons.append("manifest missing")
    elif not c2pa_report.valid:
        reasons.append("manifest invalid: " + ("; ".join(c2pa_report.errors) or "validation failed"))
    elif not c2pa_report.trusted:
        reasons.append("signer not trusted by the configured trust anchors")
    consistent: bool | None = None
    if watermark.found and c2pa_report.present:
        consistent = watermark.id == c2pa_report.provenance_id
        if not consistent:
            reasons.append(f"watermark id {watermark.id} differs from manifest id "
                           f"{c2pa_report.provenance_id}")
    elif c2pa_report.present and c2pa_report.provenance_id is None:
        reasons.append("manifest has no Veriframe provenance assertion")
    return VerificationReport(str(path), media_type, watermark, c2pa_report, consistent, reasons)
