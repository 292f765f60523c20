"""The review queue's state machine and the audit-ledger events this layer emits, as pure functions.

A "review" decision opens a :class:`ReviewItem` (``pending``); a moderator approves or rejects it, or it
expires at ``expires_at``. Every transition returns a new item (nothing is mutated) and has a ledger
event builder. Event payloads are plain JSON-ready dicts that carry the prompt's keyed commitment
(``veriframe.provenance.prompt_commitment``), never its text and never a plain SHA-256 of it (anyone
reading the ledger could test guessed prompts against that).

    pending --approve--> approved
    pending --reject---> rejected
    pending --expire---> expired   (only once ``now >= expires_at``)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any

from veriframe.provenance.prompt_commitment import is_commitment
from veriframe.safety.screen import Decision


class ReviewState(str, Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ReviewError(ValueError):
    """An impossible transition (deciding an item that is no longer pending, or has expired)."""


# Ledger event types (the ledger owner stores them as AuditEvent.event_type).
EVENT_SCREENED = "screened"
EVENT_REVIEW_OPENED = "review.opened"
EVENT_REVIEW_APPROVED = "review.approved"
EVENT_REVIEW_REJECTED = "review.rejected"
EVENT_REVIEW_EXPIRED = "review.expired"
_EVENT_FOR_STATE = {
    ReviewState.APPROVED: EVENT_REVIEW_APPROVED,
    ReviewState.REJECTED: EVENT_REVIEW_REJECTED,
    ReviewState.EXPIRED: EVENT_REVIEW_EXPIRED,
}


@dataclass(frozen=True)
class ReviewItem:
    id: str
    job_id: str
    state: ReviewState
    categories: tuple[str, ...]
    scores: dict[str, float]
    policy_version: int
    prompt_commitment: dict[str, str]  # veriframe.provenance.prompt_commitment.commit_prompt(...)
    created_at: dt.datetime
    expires_at: dt.datetime
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state is ReviewState.PENDING


def _commitment(value: Any) -> dict[str, str]:
    if not is_commitment(value):
        raise ReviewError(
            "the prompt is recorded as its keyed commitment (veriframe.provenance.prompt_commitment."
            "commit_prompt), not as a plain hash or the text"
        )
    return dict(value)


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ReviewError("times must be timezone-aware (UTC)")
    return now


def open_review(
    job_id: str,
    decision: Decision,
    prompt_commitment: dict[str, str],
    *,
    now: dt.datetime,
    ttl_seconds: int,
    item_id: str | None = None,
) -> ReviewItem:
    """A pending item for a job whose prompt got a "review" decision; it expires ``ttl_seconds`` later."""
    if decision.decision != "review":
        raise ReviewError(f"only a 'review' decision opens a review item, got {decision.decision!r}")
    if ttl_seconds <= 0:
        raise ReviewError("ttl_seconds must be positive")
    now = _aware(now)
    return ReviewItem(
        id=item_id or str(uuid.uuid4()),
        job_id=job_id,
        state=ReviewState.PENDING,
        categories=tuple(decision.categories),
        scores=dict(decision.scores),
        policy_version=decision.policy_version,
        prompt_commitment=_commitment(prompt_commitment),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_seconds),
    )


def is_expired(item: ReviewItem, now: dt.datetime) -> bool:
    """Whether a pending item has run out of time (an expired item can no longer be decided)."""
    return item.state is ReviewState.PENDING and _aware(now) >= item.expires_at


def _decide(
    item: ReviewItem, state: ReviewState, moderator: str, now: dt.datetime, reason: str | None
) -> ReviewItem:
    if item.state is not ReviewState.PENDING:
        raise ReviewError(f"review {item.id} is already {item.state.value}")
    if is_expired(item, now):
        raise ReviewError(f"review {item.id} expired at {item.expires_at.isoformat()}")
    if not moderator:
        raise ReviewError("a moderator identity is required")
    return dataclasses.replace(item, state=state, decided_by=moderator, decided_at=now, reason=reason)


def approve(item: ReviewItem, moderator: str, *, now: dt.datetime, reason: str | None = None) -> ReviewItem:
    """Approve a pending item: the job may run."""
    return _decide(item, ReviewState.APPROVED, moderator, now, reason)


def reject(item: ReviewItem, moderator: str, *, now: dt.datetime, reason: str) -> ReviewItem:
    """Reject a pending item: the job fails as blocked. A reason is required for the audit log."""
    if not reason or not reason.strip():
        raise ReviewError("a rejection needs a reason")
    return _decide(item, ReviewState.REJECTED, moderator, now, reason)


def expire(item: ReviewItem, *, now: dt.datetime) -> ReviewItem:
    """Expire a pending item whose time is up (the job fails as not reviewed in time)."""
    if item.state is not ReviewState.PENDING:
        raise ReviewError(f"review {item.id} is already {item.state.value}")
    if not is_expired(item, now):
        raise ReviewError(f"review {item.id} does not expire until {item.expires_at.isoformat()}")
    return dataclasses.replace(
        item, state=ReviewState.EXPIRED, decided_by="system", decided_at=now, reason="not reviewed in time"
    )


def sweep(items: list[ReviewItem], *, now: dt.datetime) -> list[ReviewItem]:
    """The expired versions of every pending item whose time is up (what a periodic sweeper applies)."""
    return [expire(i, now=now) for i in items if is_expired(i, now)]


# --- ledger event payloads ---------------------------------------------------------------------------


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if t else None


def screened_event(
    decision: Decision,
    prompt_commitment: dict[str, str],
    *,
    job_id: str | None = None,
    policy_digest: str | None = None,
) -> dict[str, Any]:
    """Payload of a ``screened`` event: the decision, categories, scores, rule and policy; no prompt text."""
    return {
        "type": EVENT_SCREENED,
        "job_id": job_id,
        "prompt_commitment": _commitment(prompt_commitment),
        "decision": decision.decision,
        "categories": list(decision.categories),
        "scores": dict(decision.scores),
        "rule": decision.rule,
        "policy_version": decision.policy_version,
        "policy_sha256": policy_digest,
        "classifier": decision.classifier,
    }


def review_opened_event(item: ReviewItem) -> dict[str, Any]:
    return {
        "type": EVENT_REVIEW_OPENED,
        "review_id": item.id,
        "job_id": item.job_id,
        "prompt_commitment": dict(item.prompt_commitment),
        "categories": list(item.categories),
        "scores": dict(item.scores),
        "policy_version": item.policy_version,
        "created_at": _iso(item.created_at),
        "expires_at": _iso(item.expires_at),
    }


def review_closed_event(item: ReviewItem) -> dict[str, Any]:
    """Payload of ``review.approved`` / ``review.rejected`` / ``review.expired`` for a decided item."""
    if item.state is ReviewState.PENDING:
        raise ReviewError(f"review {item.id} is still pending")
    return {
        "type": _EVENT_FOR_STATE[item.state],
        "review_id": item.id,
        "job_id": item.job_id,
        "prompt_commitment": dict(item.prompt_commitment),
        "state": item.state.value,
        "decided_by": item.decided_by,
        "decided_at": _iso(item.decided_at),
        "reason": item.reason,
        "policy_version": item.policy_version,
    }
