"""CancelJob's step, and its contract under any concurrency.

When `cancel` returns, the job ends CANCELLED: a queued or held job at once, a running one between
steps (the worker's RUNNING -> FINALIZING step is conditional on no cancel request). Otherwise it
raises FailedPrecondition: reason TOO_LATE once the video is being signed or is done, JOB_ENDED when
the job ended otherwise. Each attempt is a compare-and-set on the state just read; when the job moved
meanwhile (a worker claimed it, a review was decided) the state is read again and the attempt repeated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from veriframe.service.clock import utcnow
from veriframe.service.db import Job, ReviewItem, unavailable_as_error
from veriframe.service.errors import Aborted, FailedPrecondition
from veriframe.service.flow import holds
from veriframe.service.flow.types import Services
from veriframe.service.ledger import events as ev
from veriframe.service.store import jobs as J
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from veriframe.service.auth import Principal

ATTEMPTS = 8  # compare-and-set rounds before Cancel answers ABORTED (each lost race is one step)


def cancel(services: Services, principal: Principal, job_id: str) -> Job:
    job = services.store.get(job_id, tenant=principal.tenant)
    for _ in range(ATTEMPTS):
        outcome = _cancel_from(services, principal, job)
        if outcome == "cancelled":
            J.remove_input(job.params, services.storage)
            if job.state == S.REVIEW and (job.params or {}).get(holds.HELD):
                holds.discard(services, job.id)  # a held video is never released once cancelled
        if outcome is not None:
            return services.store.get(job.id)
        job = services.store.get(job.id)
    raise Aborted(f"job {job.id} kept changing state while being cancelled; retry")


def _cancel_from(services: Services, principal: Principal, job: Job) -> str | None:
    """One compare-and-set from `job.state`: "cancelled", "requested", or None when it moved."""
    if job.state in (S.FINALIZING, S.SUCCEEDED):
        raise FailedPrecondition(
            f"job {job.id} is {S.API_STATE[job.state]}: too late to cancel", reason="TOO_LATE"
        )
    if job.state in S.TERMINAL:
        raise FailedPrecondition(f"job {job.id} already ended ({S.API_STATE[job.state]})", reason="JOB_ENDED")
    with unavailable_as_error(), services.sessions.begin() as s:
        if job.state == S.RUNNING:
            flagged = s.execute(
                update(Job).where(Job.id == job.id, Job.state == S.RUNNING).values(cancel_requested=True)
            ).rowcount
            return "requested" if flagged == 1 else None
        if job.state not in (S.QUEUED, S.REVIEW) or not services.store.transition(
            s,
            job.id,
            owner=None,
            from_states=(job.state,),
            to_state=S.CANCELLED,
            event=(ev.CANCELLED, ev.cancelled(by=principal.key_id, stage=job.state)),
            actor=principal.key_id,
            tenant=job.tenant,
            error_code="CANCELLED",
            error_message="cancelled by the requester",
        ):
            return None  # moved on (or is between states, e.g. screening): read it again
        s.execute(
            update(ReviewItem)
            .where(ReviewItem.job_id == job.id, ReviewItem.state == "pending")
            .values(
                state="expired",
                decided_by=principal.key_id,
                decided_at=utcnow(),
                reason="the requester cancelled the job",
            )
        )
    return "cancelled"
