"""The durable job queue on the `jobs` table: states, atomic claims with a lease, heartbeats, recovery.

Any number of server processes (one worker per GPU each) share one database safely:
- a claim is a compare-and-set (`UPDATE jobs SET state='running', worker_id=... WHERE id=:id AND
  state='queued'`): of two workers racing for a job exactly one sees rowcount 1. On PostgreSQL the
  candidate is picked with `FOR UPDATE SKIP LOCKED` so racing workers pick different jobs;
- a claimed job carries `lease_expires_at`, renewed by the worker's heartbeat; every later write of
  the worker is again conditional on `worker_id` (a worker whose lease was taken over writes nothing);
- `recover_expired` (run periodically by every server) requeues jobs whose lease ran out, or fails
  them with a ledger record after `max_attempts`, so a crashed worker never loses an accepted job.

States (the API's JobState <-> the column): `veriframe.service.store.states`. The walk: docs/architecture.md.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update

from veriframe.service.clock import aware, utcnow
from veriframe.service.db import Job, unavailable_as_error
from veriframe.service.errors import InvalidArgument, NotFound
from veriframe.service.ledger import events as ev
from veriframe.service.store.states import (
    ACTIVE_LEASED,
    CANCELLED,
    FAILED,
    FINALIZING,
    QUEUED,
    REVIEW,
    RUNNING,
    SCREENING,
    TERMINAL,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.service.ledger import Ledger

log = logging.getLogger(__name__)
Event = tuple[str, dict[str, Any]]  # a ledger event: (type, payload)
REQUEUED = "generation.requeued"  # the ledger's event type for a job given back to the queue

SYSTEM = "system:jobs"


@dataclass(frozen=True)
class Recovered:
    job_id: str
    action: str  # "requeued" | "failed" | "cancelled"


def encode_page_token(job: Job) -> str:
    raw = f"{aware(job.created_at).isoformat()}|{job.id}"  # type: ignore[union-attr]
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_page_token(token: str) -> tuple[datetime, str]:
    try:
        created, job_id = base64.urlsafe_b64decode(token.encode()).decode().split("|", 1)
        return datetime.fromisoformat(created), job_id
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidArgument("page_token", "not a token this server issued") from error


class JobStore:
    """Queue operations. Every method is blocking (call it from a thread in async code)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        # Where uploaded inputs live (veriframe.service.storage; the Workflow sets it), so that
        # recovery can delete the input of a job it ends. None: inputs are files on this disk.
        self.storage: Any = None
        self._postgres = sessions.kw["bind"].dialect.name == "postgresql"

    # --- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str, *, tenant: str | None = None) -> Job:
        """The job; NotFound when missing or (with `tenant`) another tenant's: no existence leak."""
        with unavailable_as_error(), self.sessions() as s:
            job = s.get(Job, job_id) if _looks_like_id(job_id) else None
        if job is None or (tenant is not None and job.tenant != tenant):
            raise NotFound(f"job {job_id} not found")
        return job

    def list(
        self, *, tenant: str, page_size: int, page_token: str = "", states: Iterable[str] = ()
    ) -> tuple[list[Job], str]:
        """Newest first, keyset-paginated."""
        page_size = min(max(page_size or 50, 1), 500)
        query = select(Job).where(Job.tenant == tenant)
        states = list(states)
        if states:
            query = query.where(Job.state.in_(states))
        if page_token:
            created, last_id = decode_page_token(page_token)
            query = query.where(
                or_(Job.created_at < created, and_(Job.created_at == created, Job.id < last_id))
            )
        query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(page_size + 1)
        with unavailable_as_error(), self.sessions() as s:
            jobs = list(s.scalars(query))
        more = len(jobs) > page_size
        jobs = jobs[:page_size]
        return jobs, (encode_page_token(jobs[-1]) if more else "")

    def waiting_count(self, session: Session, tenant: str) -> int:
        """Jobs of `tenant` accepted but not running yet (the per-tenant cap counts these)."""
        return (
            session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.tenant == tenant, Job.state.in_((QUEUED, REVIEW)))
            )
            or 0
        )

    def find_idempotent(self, session: Session, tenant: str, key: str) -> Job | None:
        return session.scalars(select(Job).where(Job.tenant == tenant, Job.idempotency_key == key)).first()

    # --- worker side ----------------------------------------------------------------------------

    def claim(self, worker_id: str) -> Job | None:
        """Take the oldest queued job under a lease, or None. Safe against any number of claimers."""
        for _ in range(5):  # lost races retry with the next candidate
            with unavailable_as_error(), self.sessions.begin() as s:
                pick = select(Job.id).where(Job.state == QUEUED).order_by(Job.created_at, Job.id).limit(1)
                if self._postgres:
                    pick = pick.with_for_update(skip_locked=True)
                job_id = s.scalar(pick)
                if job_id is None:
                    return None
                now = utcnow()
                claimed = s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.state == QUEUED)
                    .values(
                        state=RUNNING,
                        worker_id=worker_id,
                        lease_expires_at=now + self.lease,
                        attempts=Job.attempts + 1,
                        progress_step=0,
                        updated_at=now,
                    )
                ).rowcount
                if claimed == 1:
                    return s.get(Job, job_id, populate_existing=True)
        return None

    def heartbeat(self, job_id: str, worker_id: str) -> tuple[bool, bool]:
        """Renew the lease: (still ours, cancel requested)."""
        with unavailable_as_error(), self.sessions.begin() as s:
            now = utcnow()
            owned = (
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.worker_id == worker_id, Job.state.in_(ACTIVE_LEASED))
                    .values(lease_expires_at=now + self.lease)
                ).rowcount
                == 1
            )
            cancel = bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id))) if owned else False
        return owned, cancel

    def progress(self, job_id: str, worker_id: str, step: int, total: int) -> bool:
        with unavailable_as_error(), self.sessions.begin() as s:
            return (
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.worker_id == worker_id, Job.state == RUNNING)
                    .values(progress_step=step, progress_total=total, updated_at=utcnow())
                ).rowcount
                == 1
            )

    def transition(
        self,
        session: Session,
        job_id: str,
        *,
        owner: str | None,
        from_states: Iterable[str],
        to_state: str,
        event: Event | None = None,
        actor: str = SYSTEM,
        tenant: str | None = None,
        extra_where: Iterable[Any] = (),
        **values: Any,
    ) -> bool:
        """THE job transition: compare-and-set the state inside `session` and, when it moved, append
        `event` (type, payload) to the ledger in the same transaction. False when the job is no longer
        as expected (then nothing is written)."""
        conditions = [Job.id == job_id, Job.state.in_(tuple(from_states)), *extra_where]
        if owner is not None:
            conditions.append(Job.worker_id == owner)
        if to_state in TERMINAL or to_state == QUEUED:
            values.setdefault("lease_expires_at", None)
        moved = (
            session.execute(
                update(Job).where(*conditions).values(state=to_state, updated_at=utcnow(), **values)
            ).rowcount
            == 1
        )
        if moved and event is not None:
            kind, payload = event
            tenant = tenant if tenant is not None else _tenant(session, job_id)
            self.ledger.append(kind, payload, actor=actor, tenant=tenant, job_id=job_id, session=session)
        return moved

    def release(self, job_id: str, worker_id: str, *, reason: str) -> bool:
        """Give a running job back to the queue (graceful shutdown): not counted as an attempt."""
        with unavailable_as_error(), self.sessions.begin() as s:
            return self.transition(
                s,
                job_id,
                owner=worker_id,
                from_states=(RUNNING, FINALIZING),
                to_state=QUEUED,
                event=(REQUEUED, {"reason": reason, "worker_id": worker_id}),
                worker_id=None,
                attempts=Job.attempts - 1,
                progress_step=0,
            )

    # --- recovery -------------------------------------------------------------------------------

    def recover_expired(self, now: datetime | None = None) -> list[Recovered]:
        """Requeue (or fail, after max_attempts) every job whose lease expired; one transaction each."""
        now = now or utcnow()
        with unavailable_as_error(), self.sessions() as s:
            stale = list(
                s.scalars(select(Job).where(Job.state.in_(ACTIVE_LEASED), Job.lease_expires_at < now))
            )
        done: list[Recovered] = []
        for job in stale:
            with unavailable_as_error(), self.sessions.begin() as s:
                expired = [Job.lease_expires_at < now, Job.worker_id == job.worker_id]
                if job.cancel_requested:
                    action, to_state, values = "cancelled", CANCELLED, {}
                    payload, kind = ev.cancelled(by="requester", stage=job.state), ev.CANCELLED
                elif job.state == SCREENING or job.attempts >= self.max_attempts:
                    action, to_state = "failed", FAILED
                    message = (
                        f"the worker stopped responding {job.attempts} time(s); giving up"
                        if job.state != SCREENING
                        else "the server stopped while screening"
                    )
                    values = {"error_code": "WORKER_LOST", "error_message": message}
                    payload, kind = (
                        ev.failed(error_code="WORKER_LOST", error_message=message, stage=job.state),
                        ev.FAILED,
                    )
                else:
                    action, to_state, values = "requeued", QUEUED, {"progress_step": 0}
                    payload = {
                        "reason": "lease expired",
                        "worker_id": job.worker_id,
                        "attempts": job.attempts,
                    }
                    kind = REQUEUED
                if self.transition(
                    s,
                    job.id,
                    owner=None,
                    from_states=(job.state,),
                    to_state=to_state,
                    event=(kind, payload),
                    tenant=job.tenant,
                    extra_where=expired,
                    **values,
                ):
                    done.append(Recovered(job.id, action))
                    if to_state in TERMINAL:
                        remove_input(job.params, self.storage)
                    log.warning("job %s: lease of worker %s expired -> %s", job.id, job.worker_id, action)
        return done


def remove_input(params: dict[str, Any] | None, storage: Any = None) -> None:
    """Delete a job's uploaded i2v/v2v input once the job has ended (whatever the outcome): a file
    on disk, or, with `storage` (veriframe.service.storage), whatever it recorded (an object key)."""
    from pathlib import Path

    source = (params or {}).get("input_file")
    if not source:
        return
    try:
        if storage is not None:
            storage.delete(source)
        else:
            Path(source).unlink(missing_ok=True)
    except Exception:  # an unreachable store must not fail the job's end; the input is tiny
        log.warning("could not delete the input of an ended job (%s)", source, exc_info=True)


def _tenant(session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.tenant).where(Job.id == job_id))


def _looks_like_id(job_id: str) -> bool:
    return 0 < len(job_id) <= 36


def new_job_id() -> str:
    import uuid

    return str(uuid.uuid4())
