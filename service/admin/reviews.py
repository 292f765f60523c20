"""Review queue views and decisions (the decisions themselves are `veriframe.service.flow.reviews`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from veriframe.service.admin.base import AdminBase
from veriframe.service.admin.views import (
    MAX_REASON_CHARS,
    ReviewView,
    authorize,
    page_bounds,
)
from veriframe.service.auth import Principal
from veriframe.service.clock import aware
from veriframe.service.errors import InvalidArgument, NotFound
from veriframe.service.ledger import events as ev

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class ReviewsAdmin(AdminBase):
    """The review queue: list, show, approve, reject."""

    def list_reviews(
        self,
        principal: Principal,
        *,
        states: list[str] | None = None,
        tenant: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> tuple[list[ReviewView], str]:
        """Reviews (default: pending), oldest first; returns (page, next_page_token or "")."""
        from sqlalchemy import select

        from veriframe.service.db import ReviewItem
        from veriframe.service.store.states import REVIEW_STATES

        authorize(principal, "ListReviews")
        states = list(states or ["pending"])
        for state in states:
            if state not in REVIEW_STATES:
                raise InvalidArgument("states", f"unknown review state {state!r}")
        size, offset = page_bounds(page_size, page_token)
        query = select(ReviewItem).where(ReviewItem.state.in_(states))
        if tenant:
            query = query.where(ReviewItem.tenant == tenant)
        query = query.order_by(ReviewItem.created_at, ReviewItem.id).offset(offset).limit(size + 1)
        with self._sessions() as s:
            items = list(s.scalars(query))
            views = [self._review_view(s, item) for item in items[:size]]
        return views, str(offset + size) if len(items) > size else ""

    def get_review(self, principal: Principal, review_id: str) -> ReviewView:
        authorize(principal, "GetReview")
        with self._sessions() as s:
            return self._review_view(s, self._review(s, review_id))

    def approve_review(self, principal: Principal, review_id: str, reason: str = "") -> ReviewView:
        """The held job goes to the queue; recorded as `review.approved`."""
        authorize(principal, "ApproveReview")
        return self._decide(principal, review_id, approve=True, reason=reason)

    def reject_review(self, principal: Principal, review_id: str, reason: str) -> ReviewView:
        """The held job becomes REJECTED with `reason` (the requester sees it); `review.rejected`."""
        authorize(principal, "RejectReview")
        if not reason or not reason.strip():
            raise InvalidArgument("reason", "a rejection needs a reason (the requester is shown it)")
        return self._decide(principal, review_id, approve=False, reason=reason)

    def _decide(self, principal: Principal, review_id: str, *, approve: bool, reason: str) -> ReviewView:
        # The review state machine and the job transition are the workflow's (one place decides how a
        # held job moves on); this adds the checks on `reason` and returns the full view.
        reason = (reason or "").strip()
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidArgument("reason", f"at most {MAX_REASON_CHARS} characters")
        if approve:
            item = self._workflow.approve_review(principal, review_id, reason)
        else:
            item = self._workflow.reject_review(principal, review_id, reason)
        self._notify(item.job_id)
        with self._sessions() as s:
            return self._review_view(s, self._review(s, item.id))

    @staticmethod
    def _review(s: Session, review_id: str, *, lock: bool = False) -> Any:
        from veriframe.service.db import ReviewItem

        item = s.get(ReviewItem, review_id, with_for_update=lock) if review_id else None
        if item is None:
            raise NotFound(f"review {review_id!r} not found")
        return item

    @staticmethod
    def _review_view(s: Session, item: Any, *, job: Any = None) -> ReviewView:
        from sqlalchemy import select

        from veriframe.service.db import AuditEvent, Job, PromptText

        job = job if job is not None else s.get(Job, item.job_id)
        prompt = s.get(PromptText, item.job_id)
        screened = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.job_id == item.job_id, AuditEvent.event_type == ev.SCREENED)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
        return ReviewView(
            id=item.id,
            job_id=item.job_id,
            state=item.state,
            prompt=prompt.text if prompt else "",
            negative_prompt=prompt.negative_text if prompt else "",
            categories=list(item.categories or []),
            scores={k: float(v) for k, v in (item.scores or {}).items()},
            requester_key_id=(job.owner_key_id or "") if job else "",
            tenant=item.tenant or (job.tenant if job else ""),
            policy_version=item.policy_version or 0,
            rule=_rule(job, screened),
            created_at=aware(item.created_at),
            expires_at=aware(item.expires_at),  # type: ignore[arg-type]
            decided_by=item.decided_by or "",
            decided_at=aware(item.decided_at),
            reason=item.reason or "",
            job_state=job.state if job else "",
        )


def _rule(job: Any, screened: Any) -> str:
    """The rule that held the job: the output check's for a generated video held before release
    ("output:media.nudity>=0.5"), else the request screening's (from the ledger's "screened" event)."""
    from veriframe.service.flow.holds import HELD
    from veriframe.service.store import states as S

    held = ((job.params or {}).get(HELD) if job is not None and job.state == S.REVIEW else None)
    if held:
        return f"output:{held.get('rule') or 'media'}"
    return (screened.payload.get("rule") or "") if screened else ""
