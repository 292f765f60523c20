"""The exact bytes a ledger event is hashed from: a versioned leaf format.

leaf hash = SHA-256(0x00 || leaf data), leaf data by version:

- v2 (current): RFC 8785 (JSON Canonicalization Scheme) of
  {"v": 2, "seq", "type", "time", "actor", "tenant", "job_id", "payload"}. Any language with a JCS
  library rebuilds the same bytes.
- v1 (ledgers written before v2): UTF-8 of Python's json.dumps(document without "v", sort_keys=True,
  separators=(",", ":"), ensure_ascii=False, allow_nan=False). Kept so old leaves keep verifying.

`time` is RFC 3339 UTC with microseconds ("2026-11-24T18:47:39.123456Z"). The version is stored
next to each event (column `leaf_version`) and, for v2, inside the leaf itself.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import rfc8785

LEAF_V1 = 1
LEAF_V2 = 2
CURRENT_LEAF_VERSION = LEAF_V2
LEAF_VERSIONS = (LEAF_V1, LEAF_V2)


class LeafError(ValueError):
    """A leaf version this code does not know, or a value the leaf format cannot hold."""


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds. Naive datetimes (SQLite reads them back so) are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_document(
    *,
    seq: int,
    event_type: str,
    time: datetime | str,
    actor: str,
    tenant: str | None,
    job_id: str | None,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """The event as the leaf records it (without the version marker)."""
    return {
        "seq": seq,
        "type": event_type,
        "time": time if isinstance(time, str) else format_time(time),
        "actor": actor,
        "tenant": tenant,
        "job_id": job_id,
        "payload": payload,
    }


def python_sorted_json(value: Any) -> bytes:
    """The v1 encoding: sorted keys, no whitespace, UTF-8, no NaN/Infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical JSON; raises LeafError for what JCS cannot hold (e.g. integers beyond 2**53)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as error:
        raise LeafError(f"not representable as RFC 8785 JSON: {error}") from None


def leaf_data(document: dict[str, Any], version: int = CURRENT_LEAF_VERSION) -> bytes:
    """The leaf bytes of an `event_document` in leaf format `version`."""
    if version == LEAF_V2:
        return canonical_json({"v": LEAF_V2, **document})
    if version == LEAF_V1:
        return python_sorted_json(document)
    raise LeafError(f"unknown leaf version {version!r} (known: {', '.join(map(str, LEAF_VERSIONS))})")


def parse_leaf(data: bytes) -> tuple[int, dict[str, Any]]:
    """(version, document) of leaf bytes; the version is read from the leaf, v1 when it has none."""
    document = json.loads(data)
    if not isinstance(document, dict):
        raise LeafError("a leaf is a JSON object")
    version = document.pop("v", LEAF_V1)
    if leaf_data(document, version) != data:
        raise LeafError(f"the bytes are not a canonical v{version} leaf")
    return version, document
