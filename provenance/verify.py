"""Verify a video or image: C2PA manifest (signature, hard binding, trust), watermark, and that they agree.

``verify_file`` never raises for a *negative* result (tampered, untrusted, no watermark...): that is a
report with ``verdict = "not_verified"`` and the reasons. It raises :class:`UnreadableInput` only when
the file is not a readable MP4, PNG or JPEG at all (the CLI's exit code 2).
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from veriframe.provenance import media
from veriframe.provenance.coverage import Uncovered, data_hash_uncovered, mp4_uncovered, store_uncovered
from veriframe.provenance.ids import format_id
from veriframe.provenance.layout import (
    MAX_STORE_BYTES,
    Layout,
    manifest_part,
    mp4_layout,
    png_layout,
    read_manifest_store,
    sniff,
)
from veriframe.provenance.manifest import INGREDIENT_SHA256_KEY, VERIFRAME_ASSERTION
from veriframe.provenance.manifest_store import StoreRead, read_store

SCHEMA = "veriframe.verify/1"
TRUST_ANCHORS_ENV = "VERIFRAME_TRUST_ANCHORS"
MAX_FILE_BYTES = 2 << 30
#: Images are decoded (and hashed by c2pa-rs) in memory: a 4096x4096 frame's PNG is far below this.
MAX_IMAGE_BYTES = 128 << 20
MAX_PIXELS = 4096 * 4096
#: Frames the watermark detector looks at: plenty of evidence, bounded memory (``media.VERIFY_FRAMES``).
DETECT_FRAMES = media.VERIFY_FRAMES
VERIFIABLE_TYPES = ("video/mp4", "image/png", "image/jpeg")
UNTRUSTED_REASON = "signer not trusted by the configured trust anchors"


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
    #: RFC 3161 time of the signature (ISO 8601) when a valid timestamp token carries one, else None;
    #: ``timestamp_trusted``: its TSA chains to a configured trust anchor.
    timestamp: str | None = None
    timestamp_trusted: bool = False
    #: The keyed prompt commitment of the Veriframe assertion (version 2), or None.
    prompt_commitment: dict[str, Any] | None = None
    #: Regions holding data the signature does not cover: ``{"where", "offset", "size"}`` each.
    uncovered: list[dict[str, Any]] = field(default_factory=list)
    #: The active manifest's ingredients: ``{"title", "format", "relationship", "sha256", "manifest"}``.
    ingredients: list[dict[str, Any]] = field(default_factory=list)
    #: The whole manifest store as c2patool prints it; in the JSON report only when asked for.
    manifest_store: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class VerificationReport:
    file: str
    media_type: str
    watermark: WatermarkReport
    c2pa: C2paReport
    consistent: bool | None
    reasons: list[str]
    audit: dict[str, Any] | None = None  # filled by the --server lookup when available
    prompt_matches: bool | None = None  # filled by the operator's prompt check when asked for

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
            "c2pa": {k: v for k, v in vars(self.c2pa).items() if k != "manifest_store"},
            "consistent": self.consistent,
            "audit": self.audit,
            "prompt_matches": self.prompt_matches,
        }

    def to_json_with_store(self) -> dict[str, Any]:
        """:meth:`to_json` plus ``manifest_store``: the whole C2PA store (null when there is none)."""
        return {**self.to_json(), "manifest_store": self.c2pa.manifest_store}


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
        "c2pa": {k: v for k, v in vars(C2paReport(errors=[error])).items() if k != "manifest_store"},
        "consistent": None,
        "audit": None,
        "prompt_matches": None,
        "error": error,
    }


def configured_trust_anchors() -> list[bytes]:
    """PEM trust anchors from the files listed in ``$VERIFRAME_TRUST_ANCHORS`` (os.pathsep-separated)."""
    from veriframe.provenance.keys import load_trust_anchors

    value = os.environ.get(TRUST_ANCHORS_ENV, "")
    return load_trust_anchors([p for p in value.split(os.pathsep) if p.strip()])


def _layout(stream: BinaryIO, media_type: str, size: int) -> Layout | None:
    if media_type == "video/mp4":
        return mp4_layout(stream, size)
    if media_type == "image/png":
        return png_layout(stream, size)
    return None  # JPEG: c2pa-rs's data hash is trusted as is (Veriframe signs no JPEGs)


def embedded_manifest_store(data: bytes, media_type: str) -> bytes | None:
    """The raw C2PA manifest store embedded in an MP4 (C2PA ``uuid`` box) or PNG (``caBX`` chunk).

    These are the exact bytes ``signing.sign_*`` returned, so their SHA-256 matches the ledger's.
    """
    stream = io.BytesIO(data)
    layout = _layout(stream, media_type, len(data))
    part = manifest_part(layout, media_type) if layout else None
    return read_manifest_store(stream, part, media_type)[0] if part else None


def _uncovered(stream: BinaryIO, layout: Layout | None, read: StoreRead, media_type: str,
               report: C2paReport) -> list[Uncovered]:
    """Data in the file that the signature does not cover (see :mod:`provenance.coverage`); also
    fills ``report.manifest_sha256``."""
    if layout is None:
        return []
    found = []
    if layout.problem:
        found.append(Uncovered(f"unparsed data: {layout.problem}", layout.stopped_at,
                               layout.file_size - layout.stopped_at))
    part = manifest_part(layout, media_type)
    if part is not None:
        store, trailing = read_manifest_store(stream, part, media_type)
        if store is not None:
            report.manifest_sha256 = hashlib.sha256(store).hexdigest()
            store_offset = part.offset + part.size - trailing - len(store) - (4 if media_type == "image/png"
                                                                              else 0)
            found += store_uncovered(store, store_offset, trailing)
    for label, binding in read.hard_bindings.items():
        exclusions = [e for e in binding.get("exclusions") or [] if isinstance(e, dict)]
        if label.startswith("c2pa.hash.bmff"):
            found += mp4_uncovered(stream, layout, exclusions, part)
        else:
            found += data_hash_uncovered(exclusions, part)
    return found


def _refuse_oversized(path: Path, media_type: str, size: int, layout: Layout | None) -> None:
    """Images whose reading would cost memory in proportion to their size are refused up front."""
    if media_type == "video/mp4":
        return  # read as streams by c2pa-rs and PyAV
    if size > MAX_IMAGE_BYTES:
        raise UnreadableInput(f"{path}: {size} bytes, larger than the {MAX_IMAGE_BYTES >> 20} MiB limit "
                              "for images")
    for part in layout.parts if layout else []:
        if part.size > MAX_STORE_BYTES:
            raise UnreadableInput(f"{path}: PNG chunk '{part.kind}' of {part.size} bytes is larger than "
                                  f"the {MAX_STORE_BYTES >> 20} MiB limit")


def _read_c2pa(stream: BinaryIO, media_type: str, layout: Layout | None,
               trust_anchors: list[bytes]) -> C2paReport:
    report = C2paReport()
    read = read_store(stream, media_type, trust_anchors)
    if read is None:
        return report
    report.present = True
    report.manifest_store = read.store
    if read.error is not None:
        report.validation_state, report.errors = read.state, [read.error]
        return report
    report.validation_state = read.state
    report.errors = list(read.failures)
    report.valid = read.state in ("Valid", "Trusted")
    report.trusted = read.state == "Trusted"
    manifest = read.active
    report.manifest_label = manifest.get("label")
    signature = manifest.get("signature_info") or {}
    report.signer = signature.get("common_name")
    if "timeStamp.validated" in read.successes:
        report.timestamp = signature.get("time")
        report.timestamp_trusted = "timeStamp.trusted" in read.successes
    generators = manifest.get("claim_generator_info") or []
    if generators and isinstance(generators[0], dict):
        report.claim_generator = f"{generators[0].get('name')} {generators[0].get('version', '')}".strip()
    for assertion in manifest.get("assertions", []):
        label, content = assertion.get("label"), assertion.get("data") or {}
        if label == VERIFRAME_ASSERTION:
            report.provenance_id = content.get("provenance_id")
            report.model = content.get("model")
            report.audit_ref = content.get("audit_ref")
            report.prompt_commitment = content.get("prompt_commitment")
        elif label in ("c2pa.actions", "c2pa.actions.v2"):
            for action in content.get("actions", []):
                if action.get("digitalSourceType") and report.digital_source_type is None:
                    report.digital_source_type = action["digitalSourceType"]
    report.ingredients = [_ingredient(i) for i in manifest.get("ingredients") or [] if isinstance(i, dict)]
    report.uncovered = [u.to_json() for u in _uncovered(stream, layout, read, media_type, report)]
    return report


def _ingredient(ingredient: dict[str, Any]) -> dict[str, Any]:
    """The summary of one ingredient the report carries (the whole one is in ``manifest_store``)."""
    return {"title": ingredient.get("title"), "format": ingredient.get("format"),
            "relationship": ingredient.get("relationship"),
            "sha256": (ingredient.get("metadata") or {}).get(INGREDIENT_SHA256_KEY),
            "manifest": ingredient.get("active_manifest")}


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
    :func:`configured_trust_anchors`). The file is read as a stream, a part at a time: memory does
    not grow with its size."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableInput(f"{path}: larger than {MAX_FILE_BYTES} bytes")
        stream = open(path, "rb")  # noqa: SIM115 - closed below, before the pixels are decoded
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read ({exc.strerror or exc})") from exc
    with stream:
        media_type = sniff(stream.read(16))
        if media_type not in VERIFIABLE_TYPES:
            raise UnreadableInput(f"{path}: not an MP4, PNG or JPEG file")
        layout = _layout(stream, media_type, size)
        _refuse_oversized(path, media_type, size, layout)
        c2pa_report = _read_c2pa(stream, media_type, layout, list(trust_anchors))
    watermark = _watermark(path, media_type, c2pa_report)
    return VerificationReport(str(path), media_type, watermark, c2pa_report,
                              *_judge(watermark, c2pa_report))


def _watermark(path: Path, media_type: str, c2pa_report: C2paReport) -> WatermarkReport:
    try:
        if media_type == "video/mp4":
            # Streamed: only the sampled frames are kept, so memory does not grow with the length.
            frames, _, _ = media.sample_frames(path, DETECT_FRAMES, max_pixels=MAX_PIXELS)
        else:
            frames = media.read_image(path, max_pixels=MAX_PIXELS)[None]
        return _detect(frames)
    except media.MediaError as exc:
        # Undecodable pixels under a manifest are a (negative) finding; with neither, the file is
        # simply unreadable.
        if c2pa_report.validation_state is None:
            raise UnreadableInput(str(exc)) from exc
        return WatermarkReport(error=f"pixels unreadable: {exc}")


def _judge(watermark: WatermarkReport, c2pa_report: C2paReport) -> tuple[bool | None, list[str]]:
    """``(consistent, reasons)``: no reasons means verified."""
    reasons = []
    if not watermark.found:
        reasons.append("no watermark found" if watermark.error is None else watermark.error)
    if not c2pa_report.present:
        reasons.append("manifest missing")
    elif not c2pa_report.valid:
        reasons.append("manifest invalid: " + ("; ".join(c2pa_report.errors) or "validation failed"))
    elif not c2pa_report.trusted:
        reasons.append(UNTRUSTED_REASON)
    if c2pa_report.uncovered:
        total = sum(u["size"] for u in c2pa_report.uncovered)
        places = "; ".join(f"{u['where']} at offset {u['offset']} ({u['size']} bytes)"
                           for u in c2pa_report.uncovered[:5])
        reasons.append(f"content not covered by the signature ({total} bytes): {places}")
    consistent: bool | None = None
    if watermark.found and c2pa_report.present:
        consistent = watermark.id == c2pa_report.provenance_id
        if not consistent:
            reasons.append(f"watermark id {watermark.id} differs from manifest id "
                           f"{c2pa_report.provenance_id}")
    elif c2pa_report.manifest_label is not None and c2pa_report.provenance_id is None:
        reasons.append("manifest has no Veriframe provenance assertion")
    return consistent, reasons
