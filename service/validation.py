"""Validation of client values shared by every entry point (gRPC servicers, CLIs): free of gRPC.

Each check raises `InvalidArgument` naming the field, with a message the caller can act on.
"""

from __future__ import annotations

import json
from typing import Any

from veriframe.service.errors import InvalidArgument

MAX_JSON_DEPTH = 32  # policy documents nest 3-4 levels; deeper is a mistake or an attack
MAX_OFFSET = 2**63 - 1  # a page token is a row offset or a sequence number: a signed 64-bit column


def json_depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def json_object(text: str, field: str, *, max_depth: int = MAX_JSON_DEPTH) -> dict[str, Any]:
    """The JSON object in `text`; InvalidArgument when it is not JSON, not an object or too deep."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise InvalidArgument(field, f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as error:
        raise InvalidArgument(field, f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidArgument(field, "a policy document is a JSON object")
    if json_depth(document) > max_depth:
        raise InvalidArgument(field, f"JSON nested deeper than {max_depth} levels")
    return document


def page_offset(token: str | None, field: str = "page_token") -> int:
    """The non-negative integer a page token carries (0 for none)."""
    if not token:
        return 0
    if not token.isascii() or not token.isdigit() or len(token) > 19 or int(token) > MAX_OFFSET:
        raise InvalidArgument(field, "not a token returned by a previous call")
    return int(token)
