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


# google.protobuf.Timestamp's own range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS, _MAX_SECONDS = -62_135_596_800, 253_402_300_799


def from_timestamp(message: Any, name: str) -> datetime | None:
    """The aware datetime of field `name` of `message`, or None when it is not set; InvalidArgument
    (naming the field) outside the Timestamp range, which datetime cannot hold either."""
    if not message.HasField(name):
        return None
    stamp = getattr(message, name)
    if not _MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS or not 0 <= stamp.nanos <= 999_999_999:
        from veriframe.service.errors import InvalidArgument

        raise InvalidArgument(name, "a timestamp between 0001-01-01 and 9999-12-31 (nanos 0-999999999)")
    return stamp.ToDatetime(tzinfo=timezone.utc)
