"""Bounds every request must meet before a servicer sees it, checked from the message's descriptor.

One rule per kind of field, so a new RPC is covered without code of its own:
- identifiers (`id`, `*_id`, `tenant`, `actor`, `idempotency_key`, ...) are at most `MAX_ID_CHARS`
  characters and page tokens at most `MAX_TOKEN_CHARS`: nothing longer was ever issued, and a value
  this size is what status messages may echo;
- text holds no NUL character (PostgreSQL's text cannot store one, SQLite would; both must agree);
- integers fit the database's signed columns: a uint32 at most 2^31-1, a uint64 at most 2^63-1 (a
  larger sequence number, version or offset cannot name a row).
Free text (prompts, reasons, documents) has its own limits in the workflow. Every violation is an
`InvalidArgument` naming the field.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from veriframe.service.errors import InvalidArgument

MAX_ID_CHARS = 128
MAX_TOKEN_CHARS = 512
MAX_ECHO_CHARS = 64  # how much of a client's value a status message repeats
_ID_NAMES = frozenset({"id", "tenant", "actor", "decision", "idempotency_key", "content_type"})
_SIGNED_MAX = {
    FieldDescriptor.TYPE_UINT32: 2**31 - 1,
    FieldDescriptor.TYPE_FIXED32: 2**31 - 1,
    FieldDescriptor.TYPE_UINT64: 2**63 - 1,
    FieldDescriptor.TYPE_FIXED64: 2**63 - 1,
}


def shown(value: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`value` as a message may repeat it: at most `limit` characters."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _text_limit(name: str) -> int | None:
    if name in _ID_NAMES or name.endswith("_id") or name.endswith("_ids") or name == "event_types":
        return MAX_ID_CHARS
    if name.endswith("page_token"):
        return MAX_TOKEN_CHARS
    return None


def check_request(message: Any, prefix: str = "") -> None:
    """InvalidArgument for the first field of `message` (recursively) outside its bounds."""
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None:
            if field.message_type.GetOptions().map_entry:
                continue
            for item in value if field.is_repeated else (value,):
                check_request(item, f"{path}.")
            continue
        values = value if field.is_repeated else (value,)
        if field.type == FieldDescriptor.TYPE_STRING:
            if any("\x00" in v for v in values):
                raise InvalidArgument(path, "must not contain NUL characters")
            limit = _text_limit(field.name)
            if limit is not None and any(len(v) > limit for v in values):
                raise InvalidArgument(path, f"at most {limit} characters")
        highest = _SIGNED_MAX.get(field.type)
        if highest is not None and any(v > highest for v in values):
            raise InvalidArgument(path, f"at most {highest}")
