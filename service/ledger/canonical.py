"""From database rows to leaf bytes: the leaf format itself is `veriframe.provenance.transparency.leaf`.

`event_bytes(row)` rebuilds the leaf data of an `AuditEvent` row in the format it was written in
(`row.leaf_version`), so v1 events of an upgraded ledger keep verifying next to v2 ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

from veriframe.provenance.transparency.leaf import event_document, format_time, leaf_data

__all__ = ["EVENT_TYPE_PATTERN", "event_bytes", "format_time", "normalise_payload"]

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def normalise_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as it reads back from a JSON column (tuples -> lists, ...), so the hash survives storage.

    Raises TypeError/ValueError for values JSON cannot hold: bytes, sets, NaN, non-string keys.
    """
    if not isinstance(payload, dict):
        raise TypeError(f"a ledger payload is a JSON object, not {type(payload).__name__}")
    for key in _all_keys(payload):
        if not isinstance(key, str):
            raise TypeError(f"ledger payload keys must be strings, not {key!r}")
    # Anything else RFC 8785 cannot encode raises LeafError (a ValueError) when the leaf is built, inside
    # the append's transaction, which then rolls back.
    return _safe_integers(json.loads(json.dumps(payload, allow_nan=False)))


SAFE_INTEGER = 2**53 - 1


def _safe_integers(value: Any) -> Any:
    """I-JSON (RFC 7493 section 2.2), which RFC 8785 builds on: integers beyond +-(2**53 - 1), such as
    64-bit seeds, are recorded as their decimal string, so every JSON reader gets the exact value."""
    if isinstance(value, dict):
        return {k: _safe_integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe_integers(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > SAFE_INTEGER:
        return str(value)
    return value


def _all_keys(value: Any) -> list[Any]:
    keys: list[Any] = []
    if isinstance(value, dict):
        for k, v in value.items():
            keys.append(k)
            keys.extend(_all_keys(v))
    elif isinstance(value, (list, tuple)):
        for v in value:
            keys.extend(_all_keys(v))
    return keys


def event_bytes(row: Any, *, seq: int | None = None) -> bytes:
    """Leaf data of an `AuditEvent` row (optionally as if it sat at another `seq`, to spot moved rows)."""
    document = event_document(
        seq=row.seq if seq is None else seq,
        event_type=row.event_type,
        time=row.time,
        actor=row.actor,
        tenant=row.tenant,
        job_id=row.job_id,
        payload=row.payload,
    )
    return leaf_data(document, row.leaf_version)
