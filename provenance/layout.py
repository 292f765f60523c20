"""The top-level structure of an MP4 (ISO BMFF boxes) or PNG (chunks), read in bounded memory.

Only headers are read (the stream seeks over every payload), so a 1.5 GB ``free`` box costs a few
bytes of memory. The verifier uses the layout to find the embedded C2PA manifest store and to compare
the file's structure with what the signature's hard binding covers (:mod:`provenance.coverage`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

#: The C2PA ``uuid`` box's extended type (C2PA 2.x, "Embedding manifests into BMFF").
C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: More top-level parts than any real file has: the walk stops there instead of looping for ages
#: over a file made of millions of empty boxes.
MAX_PARTS = 10_000
#: The largest manifest store read into memory (Veriframe's are ~5 KB; an ingredient's embedded store
#: can add a few MB).
MAX_STORE_BYTES = 64 << 20


@dataclass(frozen=True)
class Part:
    """One top-level box (MP4) or chunk (PNG)."""

    kind: str  # "moov", "free", "IDAT", ...; bytes outside printable ASCII are escaped
    offset: int
    size: int  # the whole box or chunk, header (and PNG CRC) included
    header: int  # bytes before the payload (MP4: 8 or 16, plus 16 for a uuid box's usertype)
    usertype: bytes | None = None  # a uuid box's 16-byte extended type

    @property
    def payload_size(self) -> int:
        """MP4 only: the bytes after the box header."""
        return self.size - self.header


@dataclass(frozen=True)
class Layout:
    parts: list[Part] = field(default_factory=list)
    file_size: int = 0
    problem: str | None = None  # why the walk stopped early (truncated box, trailing bytes, ...)
    stopped_at: int = 0  # where it stopped: the bytes from here on are in no part


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first 16 bytes: MP4, PNG, JPEG or WebP; None otherwise."""
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(PNG_SIGNATURE):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _kind(raw: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in raw)


def _read_exact(stream: BinaryIO, offset: int, n: int) -> bytes:
    stream.seek(offset)
    return stream.read(n)


def _walk(stream: BinaryIO, file_size: int, start: int, noun: str,
          next_part: Callable[[BinaryIO, int, bytes, int], Part | str], last: str | None = None) -> Layout:
    """Parts one after another from ``start``; ``next_part`` reads one from its header (or says why it
    cannot); the walk stops at the end of the file, at a problem, or after a ``last`` part."""
    parts: list[Part] = []
    pos = start
    while pos < file_size:
        if len(parts) >= MAX_PARTS:
            plural = "boxes" if noun == "box" else noun + "s"
            return Layout(parts, file_size, f"more than {MAX_PARTS} {plural}", pos)
        head = _read_exact(stream, pos, 16)
        if len(head) < 8:
            return Layout(parts, file_size, f"{file_size - pos} trailing bytes after the last {noun}", pos)
        part = next_part(stream, pos, head, file_size)
        if isinstance(part, str):
            return Layout(parts, file_size, part, pos)
        parts.append(part)
        pos += part.size
        if part.kind == last and pos < file_size:
            return Layout(parts, file_size, f"{file_size - pos} bytes after the {last} {noun}", pos)
    return Layout(parts, file_size)


def _box(stream: BinaryIO, pos: int, head: bytes, file_size: int) -> Part | str:
    size, raw = struct.unpack(">I4s", head[:8])
    header = 8
    if size == 1:
        if len(head) < 16:
            return f"box at offset {pos} is cut short"
        size, header = struct.unpack(">Q", head[8:16])[0], 16
    elif size == 0:
        size = file_size - pos
    kind = _kind(raw)
    if size < header:
        return f"box '{kind}' at offset {pos} has an impossible size {size}"
    if pos + size > file_size:
        return (f"box '{kind}' at offset {pos} claims {size} bytes, {pos + size - file_size} past the end "
                "of the file (truncated?)")
    usertype = None
    if raw == b"uuid":
        usertype = _read_exact(stream, pos + header, 16)
        if len(usertype) < 16 or size < header + 16:
            return f"uuid box at offset {pos} is cut short"
        header += 16
    return Part(kind, pos, size, header, usertype)


def _chunk(stream: BinaryIO, pos: int, head: bytes, file_size: int) -> Part | str:
    length, raw = struct.unpack(">I4s", head[:8])
    kind = _kind(raw)
    if pos + 12 + length > file_size:
        return f"chunk '{kind}' at offset {pos} claims {length} bytes, past the end of the file (truncated?)"
    return Part(kind, pos, 12 + length, 8)


def mp4_layout(stream: BinaryIO, file_size: int) -> Layout:
    """The top-level boxes of an MP4 file (ISO/IEC 14496-12 section 4.2: 32-bit size, or 1 and a
    64-bit size, or 0 for "to the end of the file")."""
    return _walk(stream, file_size, 0, "box", _box)


def png_layout(stream: BinaryIO, file_size: int) -> Layout:
    """The chunks of a PNG file (length, type, data, CRC), up to and including ``IEND``."""
    return _walk(stream, file_size, len(PNG_SIGNATURE), "chunk", _chunk, last="IEND")


def is_c2pa_box(part: Part) -> bool:
    return part.kind == "uuid" and part.usertype == C2PA_UUID


def manifest_part(layout: Layout, media_type: str) -> Part | None:
    """The part that holds the C2PA manifest store: the first C2PA ``uuid`` box whose purpose is
    ``manifest`` (MP4) or the first ``caBX`` chunk (PNG); c2pa-rs reads the same one."""
    for part in layout.parts:
        if media_type == "image/png" and part.kind == "caBX":
            return part
        if media_type == "video/mp4" and is_c2pa_box(part):
            return part
    return None


def read_manifest_store(stream: BinaryIO, part: Part, media_type: str) -> tuple[bytes | None, int]:
    """The raw C2PA manifest store (JUMBF) held in ``part`` and the number of bytes that follow it
    inside the part (nothing should: bytes there are covered by neither the store nor the file's hash).

    MP4: the uuid box body is version/flags (4), the purpose ``manifest\\0``, an 8-byte offset to an
    optional ``merkle`` box, then the store. PNG: the ``caBX`` chunk's data is the store.
    """
    body_size = part.size - part.header - (4 if media_type == "image/png" else 0)
    if body_size > MAX_STORE_BYTES:
        return None, 0
    body = _read_exact(stream, part.offset + part.header, body_size)
    if media_type == "video/mp4":
        end = body.find(b"\x00", 4)
        if end < 0 or body[4:end] != b"manifest" or len(body) < end + 9:
            return None, 0
        body = body[end + 9 :]
    if len(body) < 8:
        return None, 0
    jumbf_size = struct.unpack(">I", body[:4])[0]
    if jumbf_size < 8 or jumbf_size > len(body):
        return body, 0
    return body[:jumbf_size], len(body) - jumbf_size
