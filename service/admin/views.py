"""The admin domain's typed results, query types and the helpers every part shares."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from veriframe.service.auth import ROLE_MATRIX, Principal
from veriframe.service.errors import InvalidArgument, PermissionDenied
from veriframe.service.validation import page_offset

_RPC = "/veriframe.v1.ModerationAdmin/"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_BATCH = 500
MAX_REASON_CHARS = 2000


# ------------------------------------------------------------------------------------------- views


@dataclass(frozen=True)
class ReviewView:
    id: str
    job_id: str
    state: str  # pending | approved | rejected | expired
    prompt: str  # "" once purged by retention
    negative_prompt: str
    categories: list[str]
    scores: dict[str, float]
    requester_key_id: str
    tenant: str
    policy_version: int
    rule: str  # the rule that fired (staff only), from the ledger's "screened" event
    created_at: datetime
    expires_at: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    job_state: str  # as stored: pending_review, queued, running, ..., rejected


@dataclass(frozen=True)
class PolicyChange:
    path: str  # e.g. "categories.hate.block_threshold"
    old: Any  # MISSING when added
    new: Any  # MISSING when removed


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


@dataclass(frozen=True)
class PolicyDiff:
    from_version: int
    to_version: int
    changes: list[PolicyChange]
    unified_diff: str


@dataclass(frozen=True)
class DryRun:
    decision: str
    categories: list[str]
    scores: dict[str, float]
    rule: str
    policy_version: int
    user_message: str


@dataclass(frozen=True)
class KeyView:
    id: str
    prefix: str
    role: str
    tenant: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    created_by: str


@dataclass(frozen=True)
class CreatedKey:
    key: KeyView
    secret: str  # shown once


@dataclass(frozen=True)
class AuditQuery:
    job_id: str | None = None
    actor: str | None = None
    tenant: str | None = None
    event_types: tuple[str, ...] = ()
    decision: str | None = None  # allow | review | block: "screened" events with that decision
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


@dataclass(frozen=True)
class CheckpointView:
    tree_size: int
    root_hash: str
    created_at: datetime
    signature: bytes
    signed_data: bytes
    key_id: str
    public_key_pem: str
    note: str = ""  # the C2SP signed note (empty for a v1 checkpoint)


@dataclass(frozen=True)
class CosignatureReceipt:
    checkpoint: CheckpointView  # as served now, every stored cosignature on its note
    added: list[str]  # witnesses whose cosignature was stored by this call
    already: list[str]  # witnesses that had one stored already
    ignored: list[str]  # lines by witnesses not configured (not stored)


@dataclass(frozen=True)
class InclusionView:
    seq: int
    tree_size: int
    leaf_hash: str
    path: list[str]
    root_hash: str
    verified: bool
    checkpoint: CheckpointView | None


@dataclass(frozen=True)
class LedgerCheck:
    ok: bool
    tree_size: int
    root_hash: str
    checkpoints_checked: int
    problems: list[str]


@dataclass(frozen=True)
class StatsView:
    start: datetime | None
    end: datetime | None
    requests: int = 0
    allowed: int = 0
    reviewed: int = 0
    blocked: int = 0
    blocks_by_category: dict[str, int] = field(default_factory=dict)
    review_backlog: int = 0
    reviews_approved: int = 0
    reviews_rejected: int = 0
    reviews_expired: int = 0
    jobs_by_state: dict[str, int] = field(default_factory=dict)
    succeeded: int = 0
    failed: int = 0


# ----------------------------------------------------------------------------------------- helpers


def authorize(principal: Principal, rpc: str) -> None:
    """PermissionDenied unless the principal's role may call ModerationAdmin/`rpc` (ROLE_MATRIX)."""
    allowed = ROLE_MATRIX.get(_RPC + rpc)
    if allowed is None or principal.role not in allowed:
        raise PermissionDenied(f"role '{principal.role}' may not call {rpc}")


def page_bounds(page_size: int | None, page_token: str | None) -> tuple[int, int]:
    size = page_size or DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    return size, page_offset(page_token)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted paths; lists and scalars are leaves (compared whole)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[PolicyChange], str]:
    """The changed paths (the "version" field aside) and a unified diff of the pretty-printed documents."""
    a = {k: v for k, v in _flatten(old).items() if k != "version"}
    b = {k: v for k, v in _flatten(new).items() if k != "version"}
    changes = [
        PolicyChange(path, a.get(path, MISSING), b.get(path, MISSING))
        for path in sorted(a.keys() | b.keys())
        if a.get(path, MISSING) != b.get(path, MISSING)
    ]
    pretty_a = json.dumps(old, indent=2, sort_keys=True).splitlines(keepends=True)
    pretty_b = json.dumps(new, indent=2, sort_keys=True).splitlines(keepends=True)
    unified = "".join(
        difflib.unified_diff(
            pretty_a, pretty_b, fromfile=f"v{old.get('version', '?')}", tofile=f"v{new.get('version', '?')}"
        )
    )
    return changes, unified
