"""Output holds: a generated video that output screening flagged waits for a moderator, unreleased.

The worker watermarks, encodes and signs the video as usual, then moves the job FINALIZING -> REVIEW
(not SUCCEEDED): Download serves SUCCEEDED jobs only, so nobody can fetch it. The "generated" record it
would have written is kept in the job's params (`HELD`) and written when a moderator approves:
REVIEW -> SUCCEEDED with "review.approved" and "generated" in one transaction. A rejection (or the
review's expiry, or a cancel) ends the job REJECTED / CANCELLED and deletes the video.

One review row per job (`review_items.job_id` is unique): a job whose prompt was reviewed and approved
reopens that row for its output; the earlier decision stays in the ledger ("review.approved").
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from veriframe.service.clock import utcnow
from veriframe.service.db import Job, ReviewItem, unavailable_as_error
from veriframe.service.flow.types import Services, remove_paths
from veriframe.service.ledger import events as ev
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from veriframe.service.flow.types import Marked, WorkerContext

HELD = "held_output"  # job.params: {"generated": the record to write on release, "rule": what flagged it}


def hold(
    services: Services, job: Job, ctx: WorkerContext, generated: dict[str, Any], marked: Marked, decision: Any
) -> bool:
    """FINALIZING -> REVIEW with the marked video's paths and a pending review; False if the lease was
    lost (nothing written). `decision` is the output's MediaDecision."""
    _, policy = services.policies.live()  # read before the write transaction (SQLite: one writer)
    with unavailable_as_error(), services.sessions.begin() as s:
        params = s.scalar(select(Job.params).where(Job.id == job.id)) or {}
        held = {"generated": generated, "rule": decision.rule or "", "categories": list(decision.categories)}
        moved = services.store.transition(
            s,
            job.id,
            owner=ctx.worker_id,
            from_states=(S.FINALIZING,),
            to_state=S.REVIEW,
            worker_id=None,
            lease_expires_at=None,
            params={**params, HELD: held},
            provenance_id=marked.provenance_id,
            output_path=str(marked.video),
            output_sha256=marked.sha256,
            manifest_sha256=marked.manifest_sha256,
            frames_dir=str(marked.frames_dir) if marked.frames_dir else None,
        )
        if moved:
            _queue(services, s, job, decision, policy.review_ttl_seconds)
    ctx.on_change(job.id)
    return moved


def _queue(services: Services, s: Session, job: Job, decision: Any, ttl_seconds: int) -> None:
    item = s.scalar(select(ReviewItem).where(ReviewItem.job_id == job.id))
    if item is None:
        item = ReviewItem(job_id=job.id, tenant=job.tenant)
        s.add(item)
    expires = utcnow() + timedelta(seconds=ttl_seconds)
    item.state, item.expires_at, item.created_at = "pending", expires, utcnow()
    item.categories = list(decision.categories)
    item.scores = {k: float(v) for k, v in decision.scores.items()}
    item.policy_version = decision.policy_version
    item.decided_by = item.decided_at = item.reason = None
    s.flush()
    services.ledger.append(
        ev.REVIEW_QUEUED,
        ev.review_queued(review_id=item.id, categories=item.categories, expires_at=expires, stage="output"),
        actor="system:safety",
        tenant=job.tenant,
        job_id=job.id,
        session=s,
    )


def held_output(s: Session, job_id: str) -> dict[str, Any] | None:
    """The held video's record when the job waits in REVIEW for its output (not its prompt)."""
    row = s.execute(select(Job.state, Job.params).where(Job.id == job_id)).first()
    if row is None or row.state != S.REVIEW:
        return None
    return (row.params or {}).get(HELD)


def release_values(held: dict[str, Any]) -> dict[str, Any]:
    """What an approval passes to the transition: SUCCEEDED with the "generated" record."""
    return {"to_state": S.SUCCEEDED, "event": (ev.GENERATED, held["generated"])}


def discard(services: Services, job_id: str) -> None:
    """Delete a held video that will never be released (rejected, expired, cancelled)."""
    from veriframe.service.flow import execute, publish

    with unavailable_as_error(), services.sessions() as s:
        job = s.get(Job, job_id)
    if job is not None:
        remove_paths(execute.out_dir(services, job))
        publish.unpublish(services, job)
