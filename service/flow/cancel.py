"""CancelJob's step: a queued or held job ends at once; a running one is flagged and stops between steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from veriframe.service.clock import utcnow
from veriframe.service.db import Job, ReviewItem, unavailable_as_error
from veriframe.service.errors import FailedPrecondition
from veriframe.service.flow.types import Services
from veriframe.service.ledger import events as ev
from veriframe.service.store import jobs as J
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from veriframe.service.auth import Principal


def cancel(services: Services, principal: Principal, job_id: str) -> Job:
    job = services.store.get(job_id, tenant=principal.tenant)
    ended = False
    with unavailable_as_error(), services.sessions.begin() as s:
        if job.state in (S.QUEUED, S.REVIEW):
            ended = services.store.transition(
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
            )
            if ended:
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
        elif job.state == S.RUNNING:
            s.execute(
                update(Job).where(Job.id == job.id, Job.state == S.RUNNING).values(cancel_requested=True)
            )
        elif job.state == S.FINALIZING:
            raise FailedPrecondition("the video is being signed: too late to cancel", reason="TOO_LATE")
        elif job.state in S.TERMINAL:
            raise FailedPrecondition(
                f"job {job.id} already ended ({S.API_STATE[job.state]})", reason="JOB_ENDED"
            )
    if ended:
        J.remove_input(job.params)
    return services.store.get(job.id)
