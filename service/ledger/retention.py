"""Retention: prompt texts are deleted when their time is up, and the deletion is itself a ledger event."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select

from veriframe.service.db.engine import unavailable_as_error
from veriframe.service.db.models import Job, PromptText
from veriframe.service.ledger import events as ev
from veriframe.service.ledger.log import EventInput, Log, lock_head, prepare

# service.jobs' terminal states (not imported: service.jobs depends on this package).
FINAL_JOB_STATES = ("succeeded", "failed", "rejected", "cancelled")


def purge_prompts(
    log: Log, sessions, now: datetime | None = None, *, actor: str = "system:retention"
) -> list[str]:
    """Delete prompt texts whose `purge_after` has passed and record a `retention.purged` event.

    Only prompts of jobs in a final state are purged: a queued or held job still needs its prompt to
    run (it is purged at the first pass after it ends). Deletion and its record commit together.
    Returns the purged job ids (nothing recorded if none).
    """
    now = now or datetime.now(timezone.utc)
    with unavailable_as_error("the audit ledger database"), log.local_lock, sessions.begin() as s:
        lock_head(s)  # first: on PostgreSQL this also orders concurrent purges
        job_ids = list(
            s.scalars(
                select(PromptText.job_id)
                .join(Job, Job.id == PromptText.job_id)
                .where(PromptText.purge_after <= now, Job.state.in_(FINAL_JOB_STATES))
            )
        )
        if not job_ids:
            return []
        s.execute(delete(PromptText).where(PromptText.job_id.in_(job_ids)))
        log.write_in(
            s,
            [
                prepare(
                    EventInput(
                        ev.RETENTION_PURGED, ev.retention_purged(job_ids=job_ids, before=now), actor, None
                    )
                )
            ],
            True,
        )
        return sorted(job_ids)
