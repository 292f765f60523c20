"""datetime <-> google.protobuf.Timestamp, one way for the SDK and the server (naive times are UTC)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from google.protobuf import timestamp_pb2

from veriframe.service.clock import aware


def to_timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(aware(moment))  # type: ignore[arg-type]
    return stamp


def from_timestamp(message: Any, name: str) -> datetime | None:
    """The aware datetime of field `name` of `message`, or None when it is not set."""
    return getattr(message, name).ToDatetime(tzinfo=timezone.utc) if message.HasField(name) else None
