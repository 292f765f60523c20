"""The guard-LLM tier in the flow: prompts in the uncertain band wait for a local guard model, off the
request path.

- Submit (`needs_guard` / `hold_for_guard`): with `guard_model_path` set, a prompt the screen allowed but
  scored in the uncertain band (`safety.guard.in_uncertain_band`, `guard_band_low`) is held: job REVIEW,
  a pending review item, `params["guard"] = "pending"`, "screened" with rule "guard.uncertain_band".
- `GuardSweeper` (started by the server): judges each pending job with `safety.guard.GuardLLM` on its
  own thread and routes it (`safety.guard.route`): safe -> QUEUED (the screen's allow stands), unsafe in
  a block category -> REJECTED (GUARD_BLOCKED), anything else (a review category, an unreadable answer,
  a purged prompt) -> stays held for a human. "guard.judged" is recorded with the move, in one
  transaction. Fail closed: while the guard cannot load or run, held jobs wait for a moderator, who
  can decide them at any time (the sweeper then leaves them alone).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from veriframe.service.clock import utcnow
from veriframe.service.db import Job, PromptText, ReviewItem, unavailable_as_error
from veriframe.service.flow.types import Services
from veriframe.service.ledger import events as ev
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
GUARD, PENDING = "guard", "pending"  # job.params["guard"]: "pending", then the verdict
ACTOR = "system:guard"
RULE = "guard.uncertain_band"


def needs_guard(services: Services, decision: Any, policy: Any) -> bool:
    from veriframe.safety.guard import in_uncertain_band

    settings = services.settings
    return settings.guard_model_path is not None and in_uncertain_band(
        decision, policy, low=settings.guard_band_low
    )


def hold_for_guard(services: Services, decision: Any, policy: Any) -> Any:
    """The allowed decision turned into a hold: the categories near their line, rule RULE."""
    from veriframe.safety.screen import user_message

    low = services.settings.guard_band_low
    near = [
        c for c, score in decision.scores.items()
        if c in policy.thresholds and policy.thresholds[c].review is not None
        and score >= low * policy.thresholds[c].review
    ]
    near.sort(key=lambda c: decision.scores[c], reverse=True)
    return dataclasses.replace(
        decision, decision="review", categories=near, rule=RULE, user_message=user_message("review", near)
    )


def pending(services: Services, limit: int = 16) -> list[str]:
    """Jobs held for the guard, oldest first (JSON params are filtered here: portable SQL)."""
    with unavailable_as_error(), services.sessions() as s:
        rows = s.execute(
            select(Job.id, Job.params)
            .join(ReviewItem, ReviewItem.job_id == Job.id)
            .where(Job.state == S.REVIEW, ReviewItem.state == "pending")
            .order_by(ReviewItem.created_at)
            .limit(500)
        ).all()
    return [r.id for r in rows if (r.params or {}).get(GUARD) == PENDING][:limit]


def judge(services: Services, guard: Any, job_id: str) -> str | None:
    """Run the guard on one held job and route it; the route taken, or None if it was decided meanwhile."""
    from veriframe.safety.guard import parse_verdict, route

    with unavailable_as_error(), services.sessions() as s:
        prompt = s.get(PromptText, job_id)
    # A purged prompt cannot be judged: a human decides (fail closed).
    verdict = guard.judge(prompt.text) if prompt is not None else parse_verdict("", guard.name)
    version, policy = services.policies.live()
    routed = route(verdict, policy) or "allow"
    with unavailable_as_error(), services.sessions.begin() as s:
        job = s.get(Job, job_id)
        item = s.scalar(select(ReviewItem).where(ReviewItem.job_id == job_id))
        if job is None or job.state != S.REVIEW or item is None or item.state != "pending":
            return None
        if (job.params or {}).get(GUARD) != PENDING:
            return None
        record = {"verdict": verdict.verdict, "categories": verdict.categories, "route": routed,
                  "model": verdict.model, "policy_version": version}
        services.ledger.append(ev.GUARD_JUDGED, record, actor=ACTOR, tenant=job.tenant, job_id=job_id,
                               session=s)
        moved = _move(services, s, job, item, routed, verdict.categories, {**job.params, GUARD: record})
        if not moved:
            raise _Raced  # rolls the record back: the job moved on between the read and the write
    return routed


class _Raced(Exception):
    pass


def _move(
    services: Services, s: Session, job: Job, item: ReviewItem, routed: str, cats: list[str], params: dict
) -> bool:
    from veriframe.safety.screen import user_message

    if routed == "review":  # stays held for a moderator, with the verdict beside it
        return services.store.transition(s, job.id, owner=None, from_states=(S.REVIEW,), to_state=S.REVIEW,
                                         params=params)
    approve = routed == "allow"
    item.state = "approved" if approve else "rejected"
    item.decided_by, item.decided_at = ACTOR, utcnow()
    item.reason = "guard: safe" if approve else "guard: unsafe"
    decided = ev.review_decided(review_id=item.id, moderator=ACTOR, reason=item.reason)
    if approve:
        event = (ev.REVIEW_APPROVED, decided)
        return services.store.transition(s, job.id, owner=None, from_states=(S.REVIEW,), to_state=S.QUEUED,
                                         event=event, actor=ACTOR, tenant=job.tenant, params=params)
    return services.store.transition(
        s, job.id, owner=None, from_states=(S.REVIEW,), to_state=S.REJECTED,
        event=(ev.REVIEW_REJECTED, decided), actor=ACTOR, tenant=job.tenant, params=params,
        error_code="GUARD_BLOCKED", error_message=user_message("block", cats),
    )


class GuardSweeper:
    """The server's guard task: loads the guard once (on its own thread) and judges held jobs."""

    def __init__(self, services: Services, *, interval: float = 1.0, notify: Any = None) -> None:
        self.services, self.interval = services, interval
        self._notify = notify or (lambda job_id: None)
        self._guard: Any = None
        self._loop: Any = None  # service.periodic.Periodic once started

    def load(self) -> Any:
        if self._guard is None:
            from veriframe.safety.guard import TEMPLATE, GuardLLM, load_template
            from veriframe.service.model_loading import MODEL_LOAD_LOCK

            settings = self.services.settings
            template = load_template(settings.guard_template) if settings.guard_template else TEMPLATE
            with MODEL_LOAD_LOCK:  # never beside the engine's load (process-global meta-device state)
                self._guard = GuardLLM(settings.guard_model_path, template=template)
        return self._guard

    def run_once(self) -> int:
        """Judge what is pending now; the number of jobs judged."""
        from veriframe.service.store import jobs as J

        done = 0
        for job_id in pending(self.services):
            try:
                routed = judge(self.services, self.load(), job_id)
            except _Raced:
                continue
            if routed is None:
                continue
            done += 1
            self._notify(job_id)
            if routed == "block":
                with unavailable_as_error(), self.services.sessions() as s:
                    params = s.scalar(select(Job.params).where(Job.id == job_id))
                J.remove_input(params, self.services.storage)
        return done

    def start(self) -> None:
        from veriframe.service.periodic import Periodic

        # The guard cannot load or run: held jobs wait for a moderator, and it is retried every 30 s.
        self._loop = Periodic("guard", lambda: asyncio.to_thread(self.run_once), self.interval, log,
                              "guard step failed (held jobs stay with the moderators; will retry)",
                              failure_pause=30.0)
        self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
