"""What in a signed file its C2PA signature does not cover.

A C2PA hard binding hashes the file *except* some parts: for MP4 (``c2pa.hash.bmff``) the manifest's
own ``uuid`` box and, by c2pa-rs's defaults, every top-level ``ftyp``, ``free``, ``skip`` and ``mfra``
box; for PNG (``c2pa.hash.data``) the byte ranges of the manifest chunk. Inside the manifest store
the COSE signature carries unsigned padding. Any data placed there (a whole second MP4 in a ``free``
box, a message in the padding) leaves the signature valid. The verifier therefore lists every such
region that holds data, and a file with any is not verified.

Allowed, because they carry nothing: empty ``free``/``skip`` boxes, all-zero signature padding, the
manifest box itself (its store is checked by the signature), and one ``ftyp`` box at the start of at
most :data:`MAX_FTYP_BYTES` (brands only).
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, BinaryIO

from veriframe.provenance.layout import Layout, Part

#: A file-type box lists brands (4 bytes each): 256 bytes allow ~60, far more than real files use.
MAX_FTYP_BYTES = 256
_SIGNATURE_LABEL = b"c2pa.signature"
_PAD_KEYS = ("pad", "pad2")


@dataclass(frozen=True)
class Uncovered:
    """A region of the file that holds data the signature does not cover."""

    where: str
    offset: int
    size: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _count(value: Any) -> int | None:
    """A non-negative integer from a (signed, but possibly hostile) assertion field, else None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _matches(stream: BinaryIO, part: Part, exclusion: dict[str, Any]) -> bool:
    """Whether a top-level box matches a bmff-hash exclusion's conditions (C2PA 2.x, 15.10.3).

    A condition this verifier cannot read counts as matching: the box is then reported as not
    covered, never trusted on a guess."""
    conditions = exclusion.get("data") or []
    for condition in conditions if isinstance(conditions, list) else [None]:
        if not isinstance(condition, dict):
            return True
        offset = _count(condition.get("offset", 0))
        try:
            want = base64.b64decode(str(condition.get("value", "")), validate=True)
        except (binascii.Error, ValueError):
            return True
        if offset is None:
            return True
        stream.seek(part.offset + offset)
        if stream.read(len(want)) != want:
            return False
    version = exclusion.get("version")
    if version is not None:
        if _count(version) is None:
            return True
        stream.seek(part.offset + part.header)
        if stream.read(1) != bytes([version & 0xFF]):
            return False
    return True


def _allowed(part: Part, index: int, manifest: Part | None) -> bool:
    if part == manifest or part.payload_size == 0:
        return True
    return part.kind == "ftyp" and index == 0 and part.size <= MAX_FTYP_BYTES


def mp4_uncovered(stream: BinaryIO, layout: Layout, exclusions: list[dict[str, Any]],
                  manifest: Part | None) -> list[Uncovered]:
    """Top-level boxes holding data that the ``c2pa.hash.bmff`` exclusions leave out of the hash."""
    found: list[Uncovered] = []
    top_level = {}
    for exclusion in exclusions:
        xpath = exclusion.get("xpath")
        if not isinstance(xpath, str):
            found.append(Uncovered("an unreadable bmff-hash exclusion", 0, 0))
            continue
        if xpath.count("/") == 1 and xpath.startswith("/"):
            top_level.setdefault(xpath[1:], []).append(exclusion)
        else:
            found.append(Uncovered(f"boxes at {xpath!r} (excluded inside covered boxes: not checked here)",
                                   0, 0))
    for index, part in enumerate(layout.parts):
        rules = top_level.get(part.kind, [])
        if any(_matches(stream, part, rule) for rule in rules) and not _allowed(part, index, manifest):
            found += _excluded_parts(part, [r.get("subset") for r in rules])
    return found


def _excluded_parts(part: Part, subset_lists: list[Any]) -> list[Uncovered]:
    """The excluded bytes of a matching box: the whole box, or only its ``subset`` ranges."""
    subsets = [s for subset in subset_lists if isinstance(subset, list) for s in subset]
    ranges = []
    for subset in subsets:
        offset = _count(subset.get("offset", 0)) if isinstance(subset, dict) else None
        length = _count(subset.get("length", 0)) if isinstance(subset, dict) else None
        if offset is None or length is None:
            return [Uncovered(f"top-level '{part.kind}' box", part.offset, part.size)]
        ranges.append(Uncovered(f"part of top-level '{part.kind}' box", part.offset + offset,
                                length or max(0, part.size - offset)))
    return ranges or [Uncovered(f"top-level '{part.kind}' box", part.offset, part.size)]


def data_hash_uncovered(exclusions: list[dict[str, Any]], manifest: Part | None) -> list[Uncovered]:
    """Byte ranges a ``c2pa.hash.data`` binding excludes beyond the manifest's own chunk."""
    lo, hi = (manifest.offset, manifest.offset + manifest.size) if manifest else (0, 0)
    found = []
    for exclusion in exclusions:
        start, length = _count(exclusion.get("start", 0)), _count(exclusion.get("length", 0))
        if start is None or length is None:
            found.append(Uncovered("an unreadable data-hash exclusion", 0, 0))
            continue
        before = max(0, min(start + length, lo) - start)
        after = max(0, start + length - max(start, hi))
        if before:
            found.append(Uncovered("bytes excluded from the data hash before the manifest", start, before))
        if after:
            found.append(Uncovered("bytes excluded from the data hash after the manifest",
                                   max(start, hi), after))
    return found


def _jumbf_boxes(data: bytes, base: int) -> list[tuple[int, bytes, bytes]]:
    """(offset, type, payload) of the JUMBF boxes in ``data`` (one level)."""
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8 or pos + size > len(data):
            break
        boxes.append((base + pos, kind, data[pos + 8 : pos + size]))
        pos += size
    return boxes


#: JUMBF description types of the manifest store's structural boxes (C2PA 2.x, 11.1): the first four
#: bytes of the 16-byte type; the rest is the C2PA suffix.
_C2PA_TYPE_SUFFIX = bytes.fromhex("00110010800000aa00389b71")
_STRUCTURE = {b"c2pa": b"c2pa", b"c2pa.assertions": b"c2as", b"c2pa.claim": b"c2cl",
              b"c2pa.claim.v2": b"c2cl", b"c2pa.signature": b"c2cs", b"c2pa.credentials": b"c2vc",
              b"c2pa.databoxes": b"c2db"}
_MANIFEST_TYPES = (b"c2ma", b"c2um")  # standard and update manifests


def _description(payload: bytes) -> tuple[bytes, bytes]:
    """(16-byte type, label) of a JUMBF description box's payload."""
    return payload[:16], payload[17:].split(b"\x00", 1)[0]


def structure_uncovered(store: bytes, store_offset: int) -> list[Uncovered]:
    """Manifest-store boxes whose description (type, label) no hash covers and c2pa-rs does not check
    strictly: the store root, each manifest, and each manifest's assertion store, claim and signature
    boxes must carry the standard types and labels; anything else is unsigned data."""
    found = []

    def expect(offset: int, payload: bytes, allowed: dict[bytes, bytes] | None) -> None:
        children = _jumbf_boxes(payload, offset + 8)
        if not children or children[0][1] != b"jumd":
            return  # no description box: c2pa-rs rejects such a store itself
        kind, label = _description(children[0][2])
        if allowed is None:  # a manifest box
            good = (kind[:4] in _MANIFEST_TYPES and kind[4:] == _C2PA_TYPE_SUFFIX
                    and label.startswith((b"urn:c2pa:", b"urn:uuid:")))
        else:
            good = allowed.get(label) == kind[:4] and kind[4:] == _C2PA_TYPE_SUFFIX
        if not good:
            found.append(Uncovered(f"manifest-store box with a non-standard description "
                                   f"{label.decode('ascii', 'backslashreplace')!r}", children[0][0],
                                   len(children[0][2]) + 8))
        if allowed is not None and label == b"c2pa":
            for child_offset, child_kind, child_payload in children[1:]:
                if child_kind == b"jumb":
                    expect(child_offset, child_payload, None)
        elif allowed is None:
            for child_offset, child_kind, child_payload in children[1:]:
                if child_kind == b"jumb":
                    expect(child_offset, child_payload, _STRUCTURE)

    for offset, kind, payload in _jumbf_boxes(store, store_offset):
        if kind == b"jumb":
            expect(offset, payload, {b"c2pa": b"c2pa"})
    return found


def _signature_boxes(data: bytes, base: int) -> list[tuple[int, bytes]]:
    """(offset, CBOR payload) of every ``c2pa.signature`` box in a JUMBF manifest store."""
    found = []
    for offset, kind, payload in _jumbf_boxes(data, base):
        if kind != b"jumb":
            continue
        children = _jumbf_boxes(payload, offset + 8)
        if children and children[0][1] == b"jumd" and _description(children[0][2])[1] == _SIGNATURE_LABEL:
            found += [(o, p) for o, k, p in children[1:] if k == b"cbor"]
            continue
        found += _signature_boxes(payload, offset + 8)
    return found


def store_uncovered(store: bytes, store_offset: int, trailing: int) -> list[Uncovered]:
    """Data in the manifest store that no signature covers: non-zero COSE padding (the unprotected
    ``pad`` header c2pa-rs reserves for later timestamps) and bytes after the store in its box."""
    import cbor2

    found = structure_uncovered(store, store_offset)
    if trailing:
        found.append(Uncovered("bytes after the manifest store in its box", store_offset + len(store),
                               trailing))
    for offset, payload in _signature_boxes(store, store_offset):
        try:
            cose = cbor2.loads(payload)
            unprotected = cose.value[1] if isinstance(cose, cbor2.CBORTag) else cose[1]
        except (cbor2.CBORDecodeError, TypeError, IndexError, KeyError, ValueError, AttributeError):
            continue  # a signature c2pa-rs cannot parse either: the manifest is invalid anyway
        if not isinstance(unprotected, Mapping):  # cbor2 decodes maps as frozendict
            continue
        for key in _PAD_KEYS:
            pad = unprotected.get(key)
            if isinstance(pad, bytes) and any(pad):
                found.append(Uncovered(f"non-zero signature padding ({key})", offset,
                                       sum(1 for b in pad if b)))
    return found
