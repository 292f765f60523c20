"""`--log-format text|json` for `veriframe serve`.

JSON lines carry `time`, `level`, `logger`, `message`, plus the request fields of the access log
(`rpc`, `code`, `latency_ms`, `tenant`, `job_id`, ...) as top-level keys, so a log pipeline can filter
on them without parsing the message. Formatting is python-json-logger's.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    class RequestJsonFormatter(JsonFormatter):
        """Lifts the access log's `request` fields to the top level of the line."""

        def add_fields(
            self, log_record: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
        ) -> None:
            super().add_fields(log_record, record, message_dict)
            request = log_record.pop("request", None)
            if isinstance(request, dict):
                log_record.update(request)

    return RequestJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def configure(level: str = "INFO", fmt: LogFormat = "text") -> None:
    """Replace the root logger's handlers with one on stderr in the given format."""
    if fmt not in ("text", "json"):
        raise ValueError(f"log format must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_json_formatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
