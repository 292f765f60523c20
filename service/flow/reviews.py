"""Human review of held prompts: queue, approve, reject, expire (one owner of the review state machine).

Every decision moves the job with `JobStore.transition`, which writes the ledger event in the same
transaction. The admin domain (`veriframe.service.admin`) calls these; see docs/architecture.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from veriframe.service.clock import aware, utcnow
from veriframe.service.db import Job, ReviewItem, unavailable_as_error
from veriframe.service.errors import FailedPrecondition, InvalidArgument, NotFound
from veriframe.service.flow import holds
from veriframe.service.flow.types import Services
from veriframe.service.ledger import events as ev
from veriframe.service.store import jobs as J
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from veriframe.service.auth import Principal

SYSTEM = "system:reviews"
MAX_REVIEW_ID = 36


def queue(services: Services, s: Session, job: Job, decision: Any, ttl_seconds: int) -> ReviewItem:
    """A pending review for a held job, inside Submit's transaction ("review.queued")."""
    # How long a prompt may wait for a moderator is moderation policy (versioned, in the ledger).
    expires = utcnow() + timedelta(seconds=ttl_seconds)
    item = ReviewItem(
        job_id=job.id,
        tenant=job.tenant,
        state="pending",
        categories=list(decision.categories),
        scores={k: float(v) for k, v in decision.scores.items()},
        policy_version=job.policy_version,
        expires_at=expires,
    )
    s.add(item)
    s.flush()
    services.ledger.append(
        ev.REVIEW_QUEUED,
        ev.review_queued(review_id=item.id, categories=item.categories, expires_at=expires),
        actor="system:safety",
        tenant=job.tenant,
        job_id=job.id,
        session=s,
    )
    return item


def approve(services: Services, principal: Principal, review_id: str, reason: str = "") -> ReviewItem:
    """The held job goes to the queue; recorded with the moderator's key id."""
    return _decide(services, principal, review_id, approve=True, reason=reason)


def reject(services: Services, principal: Principal, review_id: str, reason: str) -> ReviewItem:
    """The held job becomes REJECTED; the requester sees `reason`."""
    if not reason.strip():
        raise InvalidArgument("reason", "a rejection needs a reason (the requester sees it)")
    return _decide(services, principal, review_id, approve=False, reason=reason)


def _decide(
    services: Services, principal: Principal, review_id: str, *, approve: bool, reason: str
) -> ReviewItem:
    with unavailable_as_error(), services.sessions.begin() as s:
        item = s.get(ReviewItem, review_id) if 0 < len(review_id) <= MAX_REVIEW_ID else None
        if item is None:
            raise NotFound(f"review {review_id} not found")
        if item.state != "pending":
            raise FailedPrecondition(f"review {review_id} is already {item.state}", reason="REVIEW_DECIDED")
        if aware(item.expires_at) <= utcnow():
            raise FailedPrecondition(f"review {review_id} expired", reason="REVIEW_EXPIRED")
        item.state = "approved" if approve else "rejected"
        item.decided_by, item.decided_at, item.reason = principal.key_id, utcnow(), reason or None
        held = holds.held_output(s, item.job_id)  # a generated video waiting, not a request
        decided = (
            ev.REVIEW_APPROVED if approve else ev.REVIEW_REJECTED,
            ev.review_decided(review_id=item.id, moderator=principal.key_id, reason=reason or None),
        )
        if approve and held is not None:
            # Released: "review.approved", then "generated" with SUCCEEDED, in this one transaction.
            services.ledger.append(*decided, actor=principal.key_id, tenant=item.tenant, job_id=item.job_id,
                                   session=s)
            step: dict[str, Any] = holds.release_values(held)
        elif approve:
            step = {"to_state": S.QUEUED, "event": decided}
        else:
            step = {"to_state": S.REJECTED, "event": decided, "error_code": "REVIEW_REJECTED",
                    "error_message": reason}
        moved = services.store.transition(
            s, item.job_id, owner=None, from_states=(S.REVIEW,), actor=principal.key_id, tenant=item.tenant,
            **step,
        )
        if not moved:
            raise FailedPrecondition(
                f"the job of review {review_id} is no longer held", reason="JOB_NOT_HELD"
            )
        params = s.scalar(select(Job.params).where(Job.id == item.job_id))
    # After the commit (a rolled-back decision keeps the input and the held video): an ended job's input
    # goes; a rejected held video too.
    if not approve or held is not None:
        J.remove_input(params, services.storage)
    if not approve and held is not None:
        holds.discard(services, item.job_id)
    return item


def expire(services: Services, now: datetime | None = None) -> list[str]:
    """Pending reviews past `expires_at`: review EXPIRED, job REJECTED (REVIEW_EXPIRED), recorded."""
    now = now or utcnow()
    with unavailable_as_error(), services.sessions() as s:
        due = select(ReviewItem.id).where(ReviewItem.state == "pending", ReviewItem.expires_at < now)
        ids = list(s.scalars(due))
    expired = []
    for review_id in ids:
        with unavailable_as_error(), services.sessions.begin() as s:
            item = s.get(ReviewItem, review_id)
            if item is None or item.state != "pending":
                continue
            item.state, item.decided_at, item.decided_by = "expired", now, SYSTEM
            params = s.scalar(select(Job.params).where(Job.id == item.job_id))
            held = holds.held_output(s, item.job_id)
            services.store.transition(
                s,
                item.job_id,
                owner=None,
                from_states=(S.REVIEW,),
                to_state=S.REJECTED,
                event=(ev.REVIEW_EXPIRED, ev.review_expired(review_id=item.id, expired_at=now)),
                actor=SYSTEM,
                tenant=item.tenant,
                error_code="REVIEW_EXPIRED",
                error_message="no moderator decided in time; please submit again",
            )
        J.remove_input(params, services.storage)
        if held is not None:  # a held video nobody approved is never released
            holds.discard(services, item.job_id)
        expired.append(review_id)
    return expired
