"""The exact bytes a ledger event is hashed from.

leaf data = UTF-8 of json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False) where event = {"seq", "type", "time", "actor", "tenant", "job_id", "payload"} and
time is RFC 3339 UTC with microseconds ("2026-11-24T18:47:39.123456Z"). Anyone can rebuild it from a
row (or an exported event) and check it against the leaf hash and the signed tree.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity (they are not JSON)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def normalise_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as it reads back from a JSON column (tuples -> lists, ...), so the hash survives storage.

    Raises TypeError/ValueError for values JSON cannot hold (bytes, sets, NaN, non-string keys...).
    """
    if not isinstance(payload, dict):
        raise TypeError(f"a ledger payload is a JSON object, not {type(payload).__name__}")
    for key in _all_keys(payload):
        if not isinstance(key, str):
            raise TypeError(f"ledger payload keys must be strings, not {key!r}")
    return json.loads(canonical_json(payload))


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


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds. Naive datetimes (SQLite reads them back so) are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_document(*, seq: int, event_type: str, time: datetime, actor: str, tenant: str | None,
                   job_id: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": seq,
        "type": event_type,
        "time": format_time(time),
        "actor": actor,
        "tenant": tenant,
        "job_id": job_id,
        "payload": payload,
    }


def event_bytes(row: Any, *, seq: int | None = None) -> bytes:
    """Leaf data of an `AuditEvent` row (optionally as if it sat at another `seq`, to spot moved rows)."""
    return canonical_json(event_document(
        seq=row.seq if seq is None else seq, event_type=row.event_type, time=row.time, actor=row.actor,
        tenant=row.tenant, job_id=row.job_id, payload=row.payload,
    ))
