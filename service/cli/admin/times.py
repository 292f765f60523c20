"""Times in `veriframe-admin`: protobuf Timestamps shown as UTC times and ages, and the --since /
--until values read (ISO 8601 or an age such as 24h)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from veriframe.service.cli.admin.session import EXIT_USAGE, fail
from veriframe.service.clock import aware, utcnow


def to_datetime(stamp: Any) -> datetime | None:
    """A protobuf Timestamp (unset: None) as an aware datetime."""
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return None
    return stamp.ToDatetime(tzinfo=timezone.utc)


def when(stamp: Any) -> str:
    moment = to_datetime(stamp)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def age(stamp: Any) -> str:
    moment = to_datetime(stamp)
    if moment is None:
        return ""
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO 8601 (date or date-time; UTC unless it says otherwise) or an age like 30m, 24h, 7d."""
    if not value:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        return utcnow() - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(EXIT_USAGE, f"{option} {value!r}: use ISO 8601 (2026-11-24, 2026-11-24T18:00) "
                          "or an age (24h, 7d)")
    return aware(moment)
