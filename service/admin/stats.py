"""Moderation statistics over a time window."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from veriframe.service.admin.base import AdminBase
from veriframe.service.admin.views import (
    AuditQuery,
    StatsView,
    authorize,
)
from veriframe.service.auth import Principal
from veriframe.service.ledger import events as ev


class StatsAdmin(AdminBase):
    """Moderation statistics."""

    def stats(
        self,
        principal: Principal,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        tenant: str | None = None,
    ) -> StatsView:
        """Counts from the ledger over [start, end), the review backlog now, jobs created in the range."""
        from sqlalchemy import func, select

        from veriframe.service.db import AuditEvent, Job, ReviewItem

        authorize(principal, "GetStats")
        q = AuditQuery(
            tenant=tenant,
            start=start,
            end=end,
            event_types=(
                ev.SUBMITTED,
                ev.SCREENED,
                ev.REVIEW_APPROVED,
                ev.REVIEW_REJECTED,
                ev.REVIEW_EXPIRED,
            ),
        )
        with self._sessions() as s:
            counts = self._audit_filter(select(AuditEvent.event_type, func.count()), q)
            by_type = dict(s.execute(counts.group_by(AuditEvent.event_type)).all())
            decisions: Counter[str] = Counter()
            blocks: Counter[str] = Counter()
            screened = self._audit_filter(
                select(AuditEvent.payload),
                AuditQuery(tenant=tenant, start=start, end=end, event_types=(ev.SCREENED,)),
            )
            for (payload,) in s.execute(screened):
                decisions[payload.get("decision")] += 1
                if payload.get("decision") == "block":
                    blocks.update(payload.get("categories") or ["uncategorised"])
            backlog = select(func.count()).select_from(ReviewItem).where(ReviewItem.state == "pending")
            jobs = select(Job.state, func.count()).group_by(Job.state)
            if tenant:
                backlog = backlog.where(ReviewItem.tenant == tenant)
                jobs = jobs.where(Job.tenant == tenant)
            if start is not None:
                jobs = jobs.where(Job.created_at >= start)
            if end is not None:
                jobs = jobs.where(Job.created_at < end)
            pending = s.scalar(backlog) or 0
            by_state = dict(s.execute(jobs).all())
        return StatsView(
            start=start,
            end=end,
            requests=by_type.get(ev.SUBMITTED, 0),
            allowed=decisions["allow"],
            reviewed=decisions["review"],
            blocked=decisions["block"],
            blocks_by_category=dict(blocks),
            review_backlog=pending,
            reviews_approved=by_type.get(ev.REVIEW_APPROVED, 0),
            reviews_rejected=by_type.get(ev.REVIEW_REJECTED, 0),
            reviews_expired=by_type.get(ev.REVIEW_EXPIRED, 0),
            jobs_by_state=by_state,
            succeeded=by_state.get("succeeded", 0),
            failed=by_state.get("failed", 0),
        )
