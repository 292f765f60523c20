"""The Veriframe flow, top to bottom, in one place (docs/architecture.md draws it).

    submit():   validate (schema, then the model's limits) -> deduplicate -> admit (tenant cap)
                -> safety.screen under the live policy
                -> record ONE transaction: job + prompt + "submitted" + "screened"
                       block:  job REJECTED -> PromptBlocked
                       review: job REVIEW + review item, "review.queued"
                       allow:  job QUEUED
    execute():  (worker, after an atomic claim) engine.generate with progress + cancel
                -> RUNNING -> FINALIZING
                -> output screening of sampled frames (release / hold for review / fail, per policy)
                -> provenance.mark_video (watermark every frame, encode H.264, sign the MP4 [+ frames])
                -> "generated" (output SHA-256, manifest hash, provenance id, model, seed, params)
                   in the same transaction as job SUCCEEDED; a held video waits in REVIEW, unreleased,
                   and "generated" is written when a moderator approves it (holds, reviews).
    guard:      (optional, flow.guard) prompts in the uncertain band are held at submit and judged
                by a local guard LLM off the request path: queued, rejected, or left for a moderator.

Every step is a function in a sibling module (`submit`, `execute`, `reviews`, `cancel`, `artifacts`,
`verify`) that knows nothing of gRPC; every job state change is `JobStore.transition`, which writes the
ledger event in the same transaction. Fail closed: if screening, watermarking, signing or the ledger
write fails, no video is released: the job ends FAILED with a ledger record and its output files are
deleted (Download serves only SUCCEEDED jobs, whose "generated" record committed with the state).

Everything here is blocking: the server calls it from threads and maps `veriframe.service.errors` to
status codes. Heavy libraries (torch, diffusers, c2pa) are imported lazily.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc

from veriframe.service.errors import InvalidArgument, PromptBlocked, Unavailable
from veriframe.service.flow import (
    artifacts,
    cancel,
    execute,
    guard,
    holds,
    publish,
    reviews,
    screening,
    submit,
    verify,
)
from veriframe.service.flow.execute import CLIENT_MESSAGES, LeaseLost, SigningKeys
from veriframe.service.flow.screening import Screener
from veriframe.service.flow.types import (
    Artifact,
    Services,
    SubmitInput,
    Submitted,
    VerifyResult,
    WorkerContext,
)
from veriframe.service.observability import metrics, tracing
from veriframe.service.storage import storage_for
from veriframe.service.store import policies
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.service.auth import Principal
    from veriframe.service.db import Job, ReviewItem
    from veriframe.service.ledger import Ledger
    from veriframe.service.settings import Settings
    from veriframe.service.store.jobs import JobStore

log = logging.getLogger(__name__)
MODEL_DOWN = "generation is unavailable: this server's model could not be loaded (see the server log)"


class Workflow:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        store: JobStore,
        *,
        classifier: Any = None,
        signing_keys: Any = None,
        limits: Any = None,
    ) -> None:
        self.services = Services(
            settings=settings,
            sessions=sessions,
            ledger=ledger,
            store=store,
            policies=policies.PolicyCache(sessions),
            screener=Screener(
                settings.classifier_path,
                classifier,
                max_batch=settings.screening_max_batch,
                window_s=settings.screening_batch_window_ms / 1000,
                encoder=settings.screening_encoder,
            ),
            signing=SigningKeys(settings.keys_dir, signing_keys, tsa_url=settings.tsa_url),
            limits=limits,
            storage=storage_for(settings),
        )
        store.storage = self.services.storage  # recovery deletes the inputs of the jobs it ends
        # Why this server cannot generate (its model could not be inspected or loaded), or None.
        self.model_error: str | None = None if limits is not None else "the model was not inspected"

    # ============================================================ submit: validate, screen, queue

    def submit(self, principal: Principal, request: SubmitInput) -> Submitted:
        """Raises InvalidArgument, PromptBlocked, ResourceExhausted, Unavailable."""
        services = self.services
        if self.model_error is not None:
            # Never queue what no worker here can run (an API-only server has no workers to fail).
            # The reason names server paths: it is in the server log (set_model_error), not here.
            raise Unavailable(MODEL_DOWN)
        mode = submit.validate(services, request)
        digest = request.request_sha256(mode)  # in memory only: the job records its commitment
        earlier = submit.earlier_job(services, principal, request, digest)
        if earlier is not None:
            return Submitted(earlier, deduplicated=True)
        submit.admit(services, principal)

        # Screening runs before anything is written, outside the write transaction (it takes ~10 ms).
        policy_version, policy = services.policies.live()
        with tracing.stage("screen"):
            decision = services.screener.screen(request.prompt, policy)
            media = None
            if request.image or request.video:  # i2v / v2v: the input is screened too, before any GPU time
                kind = "image" if request.image else "video"
                media = screening.screen_media(kind, request.image or request.video, policy)
                decision = screening.combine(decision, media)
            # The uncertain band waits for the guard LLM, which runs off the request path (flow.guard).
            for_guard = guard.needs_guard(services, decision, policy)
            if for_guard:
                decision = guard.hold_for_guard(services, decision, policy)
        metrics.record_screening(decision.decision, decision.categories)
        job = submit.new_job(services, principal, request, mode, digest, decision, policy_version)
        if for_guard:
            job.params[guard.GUARD] = guard.PENDING
        try:
            submit.record(services, principal, request, job, decision, policy, media)
        except exc.IntegrityError:
            # The same idempotency key won a race in another request: return that job.
            earlier = submit.earlier_job(services, principal, request, digest)
            if earlier is None:
                raise
            return Submitted(earlier, deduplicated=True)
        if job.state == S.REJECTED:
            metrics.JOBS_FINISHED.labels(outcome=S.REJECTED).inc()
            raise PromptBlocked(decision.user_message, list(decision.categories), job.id)
        return Submitted(job, deduplicated=False)

    # ============================================================ execute: generate, mark, record

    def execute(self, job: Job, ctx: WorkerContext) -> str:
        """Run a claimed job to a terminal state (or back to the queue on shutdown); returns the state."""
        outcome = self.execute_generation(job, ctx)
        return outcome if isinstance(outcome, str) else self.finish(job, ctx, outcome)

    def execute_generation(self, job: Job, ctx: WorkerContext) -> str | tuple[dict[str, Any], Any]:
        """The GPU part: generate and move to FINALIZING. Returns the job's state when it ended here,
        else (params, video) for `finish`, which the worker runs off the generation thread."""
        from veriframe.service.engine import Cancelled

        services = self.services
        try:
            with tracing.stage("generate", job_id=job.id), metrics.GENERATION_SECONDS.labels(job.mode).time():
                params, video = execute.generate(services, job, ctx)
        except Cancelled:
            return execute.stopped(services, job, ctx, "running")
        except InvalidArgument as error:
            return execute.fail(services, job, ctx, "INVALID_ARGUMENT", error.message, "generation")
        except Exception:  # any engine failure ends the job, recorded
            # The details (never the prompt) go to the server's log; the requester gets what to do.
            log.exception("job %s: generation failed", job.id)
            return execute.fail(
                services, job, ctx, "GENERATION_FAILED", CLIENT_MESSAGES["generation"], "generation"
            )
        if ctx.should_stop() or not execute.start_finalizing(services, job, ctx, params, video):
            return execute.stopped(services, job, ctx, "running")
        return params, video

    def finish(self, job: Job, ctx: WorkerContext, generated: tuple[dict[str, Any], Any]) -> str:
        """The CPU part: watermark, encode, sign, then SUCCEEDED with its ledger record."""
        from veriframe.provenance.watermark import UnreadableMark  # (cv2: loaded where workers run)

        services = self.services
        params, video = generated
        # Output screening is post-processing too: it runs here, off the GPU thread.
        check = execute.screen_output(services, job, video)
        if check.action == "fail":
            return execute.fail(services, job, ctx, check.code, check.message, "output_screening")
        try:
            with tracing.stage("postprocess", job_id=job.id), metrics.POSTPROCESS_SECONDS.time():
                marked = publish.publish(services, job, execute.mark(services, job, video, params))
        except UnreadableMark as error:  # content too flat to carry a mark: another seed usually works
            log.warning("job %s: %s", job.id, error)
            return execute.fail(
                services, job, ctx, "WATERMARK_UNREADABLE", CLIENT_MESSAGES["unreadable_mark"], "provenance"
            )
        except Exception:  # watermark, encode or sign failed: nothing is released
            log.exception("job %s: provenance failed", job.id)
            return execute.fail(
                services, job, ctx, "PROVENANCE_FAILED", CLIENT_MESSAGES["provenance"], "provenance"
            )

        if check.action == "hold":  # marked and signed, but not downloadable until a moderator approves
            return self._hold(job, ctx, params, video, marked, check.decision)
        # The ledger record and SUCCEEDED commit together, or neither does.
        try:
            execute.succeed(services, job, ctx, params, video, marked)
            if publish.remote(services):  # uploaded: no copy stays on this host
                execute.remove_paths(execute.out_dir(services, job))
        except LeaseLost:
            execute.remove_paths(execute.out_dir(services, job))
            publish.unpublish(services, job)
            return "lost"
        except Exception:
            log.exception("job %s: ledger write failed", job.id)
            return execute.fail(services, job, ctx, "LEDGER_FAILED", CLIENT_MESSAGES["ledger"], "ledger")
        return S.SUCCEEDED

    def _hold(
        self, job: Job, ctx: WorkerContext, params: dict[str, Any], video: Any, marked: Any, d: Any
    ) -> str:
        """FINALIZING -> REVIEW with the video kept unreleased (`flow.holds`)."""
        services = self.services
        try:
            record = execute.generated_record(params, video, marked)
            if holds.hold(services, job, ctx, record, marked, d):
                if publish.remote(services):  # uploaded: no copy stays on this host
                    execute.remove_paths(execute.out_dir(services, job))
                return S.REVIEW
        except Exception:
            log.exception("job %s: holding the output for review failed", job.id)
            publish.unpublish(services, job)
            return execute.fail(services, job, ctx, "LEDGER_FAILED", CLIENT_MESSAGES["ledger"], "ledger")
        execute.remove_paths(execute.out_dir(services, job))  # the lease was lost: another worker owns it
        publish.unpublish(services, job)
        return "lost"

    # ============================================================ the requester's and moderators' steps

    def cancel(self, principal: Principal, job_id: str) -> Job:
        """Ends CANCELLED, or FailedPrecondition TOO_LATE / JOB_ENDED: see `flow.cancel.cancel`."""
        return cancel.cancel(self.services, principal, job_id)

    def artifact(self, principal: Principal, job_id: str, what: str, frame_index: int = 0) -> Artifact:
        return artifacts.artifact(self.services, principal, job_id, what, frame_index)

    def approve_review(self, principal: Principal, review_id: str, reason: str = "") -> ReviewItem:
        return reviews.approve(self.services, principal, review_id, reason)

    def reject_review(self, principal: Principal, review_id: str, reason: str) -> ReviewItem:
        return reviews.reject(self.services, principal, review_id, reason)

    def expire_reviews(self, now: datetime | None = None) -> list[str]:
        return reviews.expire(self.services, now)

    def verify(self, principal: Principal, path: Path, prompt: str | None = None) -> VerifyResult:
        return verify.verify(self.services, principal, path, prompt)

    # ============================================================ what the server wires at start

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    @property
    def limits(self) -> Any:
        return self.services.limits

    @limits.setter
    def limits(self, limits: Any) -> None:
        self.services.limits = limits

    @property
    def trust_anchors(self) -> list[bytes]:
        return self.services.trust_anchors

    @trust_anchors.setter
    def trust_anchors(self, anchors: list[bytes]) -> None:
        self.services.trust_anchors = anchors

    def set_model_error(self, reason: str | None) -> None:
        """Submit answers UNAVAILABLE with `reason` (the model cannot be loaded) until it is None."""
        if reason is not None:
            log.error("generation unavailable: the model could not be loaded: %s", reason)
        self.model_error = reason

    def classifier(self) -> Any:
        return self.services.screener.classifier()

    def signing_keys(self) -> Any:
        return self.services.signing.get()

    def ensure_policy(self) -> int:
        """Store the default policy as version 1 on a fresh database (recorded in the ledger)."""
        return policies.ensure_default(self.services.sessions, self.services.ledger)
