"""Provenance ids: the 64-bit random number carried by a video's watermark and named in its manifest."""

from __future__ import annotations

import secrets

ID_BITS = 64


def new_provenance_id() -> int:
    """A fresh, unguessable 64-bit id (from the OS's CSPRNG)."""
    return secrets.randbits(ID_BITS)


def format_id(provenance_id: int) -> str:
    """The id as 16 lowercase hex digits (the form used in manifests, the ledger and the CLI)."""
    if not 0 <= provenance_id < 1 << ID_BITS:
        raise ValueError(f"provenance id must be a 64-bit unsigned integer, got {provenance_id!r}")
    return f"{provenance_id:016x}"


def parse_id(text: str) -> int:
    """Inverse of :func:`format_id` (exactly 16 hex digits)."""
    if len(text) != 16:
        raise ValueError(f"provenance id must be 16 hex digits, got {text!r}")
    try:
        return int(text, 16)
    except ValueError:
        raise ValueError(f"provenance id must be 16 hex digits, got {text!r}") from None
