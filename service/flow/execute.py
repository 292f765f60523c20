"""Execute's steps, on a job a worker has claimed: generate, mark (watermark + encode + sign), record.

`veriframe.service.flow.workflow.Workflow.execute` calls them in order (docs/architecture.md). Every
state change goes through `JobStore.transition`, which writes its ledger event in the same transaction.
Fail closed: a failed step removes the outputs and ends the job FAILED, recorded.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from veriframe.service.db import Job, PromptText, unavailable_as_error
from veriframe.service.errors import InvalidArgument
from veriframe.service.flow.submit import MAX_INPUT_FRAMES, MAX_INPUT_PIXELS
from veriframe.service.flow.types import (
    BOOKKEEPING,
    Marked,
    Services,
    WorkerContext,
    message_of,
    out_dir,
    remove_paths,
)
from veriframe.service.ledger import events as ev
from veriframe.service.observability import metrics
from veriframe.service.store import jobs as J
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from veriframe.service.engine import GeneratedVideo

log = logging.getLogger(__name__)
PROGRESS_INTERVAL_S = 0.2  # at most 5 progress writes a second
MAX_ERROR_CHARS = 2000
# What a requester reads when a job fails on the server's side (the details are in the server's log,
# under the job id): what happened and what to do, never exception text, paths or the prompt.
CLIENT_MESSAGES = {
    "generation": "the video could not be generated because of a server error (logged with the job id); "
    "submit the request again, and contact the operator if it keeps failing",
    "provenance": "the video could not be watermarked and signed, so it was not released (a server error, "
    "logged with the job id); submit the request again, and contact the operator if it keeps failing",
    "unreadable_mark": "the generated video has too little texture to carry a readable watermark, so it "
    "was not released; submit the request again with another seed (or none), or a richer prompt",
    "ledger": "the audit record could not be written, so the video was not released (a server error, "
    "logged with the job id); submit the request again later",
}


class LeaseLost(Exception):
    """Another worker owns the job now (our lease expired): write nothing."""


class SigningKeys:
    """The C2PA signing keys of `keys_dir` (with the configured TSA) and the prompt-commitment key,
    loaded once (the server loads them at start)."""

    def __init__(self, keys_dir: Any, keys: Any = None, *, tsa_url: str | None = None) -> None:
        self._dir = keys_dir
        self._keys = keys
        self._tsa_url = tsa_url
        self._prompt_key: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._keys is None:
                from veriframe.provenance.keys import load_keys_dir

                self._keys = load_keys_dir(self._dir, tsa_url=self._tsa_url)
            return self._keys

    def prompt_key(self) -> Any:
        """The key of the manifests' prompt commitments (created in `keys_dir` on first use)."""
        with self._lock:
            if self._prompt_key is None:
                from veriframe.provenance.prompt_commitment import prompt_key_for

                self._prompt_key = prompt_key_for(self._dir)
            return self._prompt_key


def generate(services: Services, job: Job, ctx: WorkerContext) -> tuple[dict[str, Any], GeneratedVideo]:
    """("generation.started" recorded) the engine's video and its parameters (without the prompt)."""
    from veriframe.service.engine import InvalidParameter

    with unavailable_as_error(), services.sessions() as s:
        prompt = s.get(PromptText, job.id)
    if prompt is None:
        raise InvalidArgument("params.prompt", "the prompt text was purged before the job ran")
    engine = ctx.engine.for_mode(job.mode)
    _record_start(services, job, ctx, engine.info)
    last = [0.0]
    step_timer = metrics.StepTimer()

    def on_step(step: int, total: int) -> None:
        step_timer(step)
        if ctx.progress is not None:  # a dict store: the database write happens on another thread
            ctx.progress.update(job.id, step, total)
            return
        now = time.monotonic()
        if step >= total or now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            services.store.progress(job.id, ctx.worker_id, step, total)
            ctx.on_change(job.id)

    try:
        request = _engine_params(services, job, prompt)
        video = engine.generate(request, on_step=on_step, should_cancel=ctx.should_stop)
    except InvalidParameter as error:
        raise InvalidArgument(f"params.{error.field}", message_of(error)) from error
    finally:
        if ctx.progress is not None:
            ctx.progress.done(job.id)
    # The prompt never enters manifests, job records or the ledger: only its hash does.
    params = {k: v for k, v in video.params.items() if k not in ("prompt", "negative_prompt")}
    return params, video


def _record_start(services: Services, job: Job, ctx: WorkerContext, info: Any) -> None:
    with unavailable_as_error(), services.sessions.begin() as s:
        services.ledger.append(
            ev.GENERATION_STARTED,
            ev.generation_started(
                worker_id=ctx.worker_id, attempt=job.attempts, model=info.name, model_version=info.version
            ),
            actor=ctx.worker_id,
            tenant=job.tenant,
            job_id=job.id,
            session=s,
        )


def _engine_params(services: Services, job: Job, prompt: PromptText) -> Any:
    """The engine's GenerationParams: the stored request, its prompt, and its input re-read."""
    from veriframe.service.engine import GenerationParams
    from veriframe.service.flow.publish import local_copy

    image = video = None
    recorded = job.params.get("input_file")
    if recorded:
        from veriframe.provenance.media import decode_video, read_image

        with local_copy(services, recorded) as source:
            if job.mode == "i2v":
                image = read_image(source, max_pixels=MAX_INPUT_PIXELS)
            else:
                video = decode_video(source, max_frames=MAX_INPUT_FRAMES, max_pixels=MAX_INPUT_PIXELS)[0]
    fields = {k: v for k, v in job.params.items() if k not in BOOKKEEPING}
    return GenerationParams(
        prompt=prompt.text,
        negative_prompt=prompt.negative_text,
        mode=job.mode,
        image=image,
        video=video,
        **fields,
    )


def start_finalizing(
    services: Services, job: Job, ctx: WorkerContext, params: dict[str, Any], video: GeneratedVideo
) -> bool:
    """RUNNING -> FINALIZING with the resolved parameters, unless a cancel request arrived meanwhile."""
    resolved = {**params, "model": video.model.name, "model_version": video.model.version}
    with unavailable_as_error(), services.sessions.begin() as s:
        moved = services.store.transition(
            s,
            job.id,
            owner=ctx.worker_id,
            from_states=(S.RUNNING,),
            to_state=S.FINALIZING,
            extra_where=(Job.cancel_requested.is_(False),),
            params={**job.params, "resolved": resolved},
        )
    ctx.on_change(job.id)
    return moved


def mark(services: Services, job: Job, video: GeneratedVideo, params: dict[str, Any]) -> Marked:
    """Watermark every frame, encode, sign the MP4 (and the frames when asked)."""
    from veriframe.provenance.ids import format_id, new_provenance_id
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import describe_input, mark_video
    from veriframe.provenance.watermark import WATERMARK_ALGORITHM
    from veriframe.service.flow.commitments import job_commitment
    from veriframe.service.flow.publish import local_copy

    where = out_dir(services, job)
    if where.exists():  # a previous attempt's leftovers
        shutil.rmtree(where)
    where.mkdir(parents=True)
    pid = new_provenance_id()
    recorded = job.params.get("input_file")
    # The input is read while signing (an ingredient): with an object store, a local copy till then.
    with local_copy(services, recorded) if recorded else contextlib.nullcontext() as source:
        info = ManifestInfo(
            provenance_id=pid,
            model_name=video.model.name,
            model_version=video.model.version,
            audit_ref=f"veriframe:job:{job.id}",
            params=params,
            # Keyed: a file holder cannot confirm a guessed prompt (an unsalted SHA-256 could be).
            # The row's own commitment: what the job's record says and what its video commits to agree.
            prompt_commitment=job_commitment(job, services.signing.prompt_key()),
            # i2v/v2v: the input becomes the manifest's `inputTo` ingredient (with its own manifest).
            input=describe_input(source) if source is not None else None,
        )
        frames_dir = where / "frames" if job.params.get("return_frames") else None
        mp4 = where / "video.mp4"
        result = mark_video(video.frames, video.fps, mp4, info, services.signing.get(), frames_dir=frames_dir)
    manifest_sha = getattr(result, "manifest_sha256", None)
    if not manifest_sha:
        raise RuntimeError("veriframe.provenance.mark returned no manifest hash")
    # The algorithm mark_video actually embedded (v1 where the v2 mark could not be read back).
    algorithm = getattr(result, "watermark_algorithm", None) or WATERMARK_ALGORITHM
    return Marked(
        format_id(pid), mp4, result.content_sha256, manifest_sha, frames_dir, algorithm,
        size=mp4.stat().st_size,
    )


def generated_record(params: dict[str, Any], video: GeneratedVideo, marked: Marked) -> dict[str, Any]:
    """The "generated" ledger payload of a marked video (written when it is released)."""
    return ev.generated(
        model=video.model.name,
        model_version=video.model.version,
        seed=int(video.seed),
        params=params,
        output_sha256=marked.sha256,
        manifest_sha256=marked.manifest_sha256,
        provenance_id=marked.provenance_id,
        frames=int(video.frames.shape[0]),
        watermark_algorithm=marked.watermark_algorithm,
    )


def succeed(
    services: Services,
    job: Job,
    ctx: WorkerContext,
    params: dict[str, Any],
    video: GeneratedVideo,
    marked: Marked,
) -> None:
    """FINALIZING -> SUCCEEDED and "generated" in one transaction, or neither (LeaseLost)."""
    event = generated_record(params, video, marked)
    with unavailable_as_error(), services.sessions.begin() as s:
        done = services.store.transition(
            s,
            job.id,
            owner=ctx.worker_id,
            from_states=(S.FINALIZING,),
            to_state=S.SUCCEEDED,
            event=(ev.GENERATED, event),
            actor=ctx.worker_id,
            tenant=job.tenant,
            provenance_id=marked.provenance_id,
            output_path=str(marked.video),
            output_sha256=marked.sha256,
            output_size=marked.size,
            manifest_sha256=marked.manifest_sha256,
            frames_dir=str(marked.frames_dir) if marked.frames_dir else None,
            progress_step=params.get("denoising_steps", params.get("num_inference_steps", 0)),
        )
        if not done:
            raise LeaseLost
    ctx.on_change(job.id)
    J.remove_input(job.params, services.storage)


def fail(services: Services, job: Job, ctx: WorkerContext, code: str, message: str, stage: str) -> str:
    """Fail closed: remove outputs, then FAILED + its ledger record in one transaction."""
    remove_paths(out_dir(services, job))
    if ctx.stop.is_set():  # shutting down mid-failure: let another worker retry it
        return stopped(services, job, ctx, stage)
    message = message[:MAX_ERROR_CHARS]
    with unavailable_as_error(), services.sessions.begin() as s:
        services.store.transition(
            s,
            job.id,
            owner=ctx.worker_id,
            from_states=(S.RUNNING, S.FINALIZING),
            to_state=S.FAILED,
            event=(ev.FAILED, ev.failed(error_code=code, error_message=message, stage=stage)),
            actor=ctx.worker_id,
            tenant=job.tenant,
            error_code=code,
            error_message=message,
        )
    J.remove_input(job.params, services.storage)
    ctx.on_change(job.id)
    return S.FAILED


def stopped(services: Services, job: Job, ctx: WorkerContext, stage: str) -> str:
    """Cancelled by the requester (CANCELLED), or by shutdown / a lost lease (back to the queue)."""
    remove_paths(out_dir(services, job))
    if ctx.cancel.is_set() or _cancel_requested(services, job.id):
        with unavailable_as_error(), services.sessions.begin() as s:
            services.store.transition(
                s,
                job.id,
                owner=ctx.worker_id,
                from_states=(S.RUNNING, S.FINALIZING),
                to_state=S.CANCELLED,
                event=(ev.CANCELLED, ev.cancelled(by="requester", stage=stage)),
                actor=ctx.worker_id,
                tenant=job.tenant,
                error_code="CANCELLED",
                error_message="cancelled by the requester",
            )
        J.remove_input(job.params, services.storage)
        ctx.on_change(job.id)
        return S.CANCELLED
    services.store.release(job.id, ctx.worker_id, reason="worker stopping")
    ctx.on_change(job.id)
    return S.QUEUED


def _cancel_requested(services: Services, job_id: str) -> bool:
    with unavailable_as_error(), services.sessions() as s:
        return bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


@dataclass(frozen=True)
class OutputCheck:
    """What output screening says: release the video, hold it for a moderator, or fail the job."""

    action: Literal["release", "hold", "fail"]
    code: str = ""
    message: str = ""
    decision: Any = None  # the MediaDecision (None when the check could not run)


def screen_output(services: Services, job: Job, video: GeneratedVideo) -> OutputCheck:
    """Generated frames through the same image checks before release (safety.media, kind "output"),
    recorded in the ledger. A block (a protected person, nudity over the block line) fails the job; a
    review hit holds it (policy `media.output_action` "review", the default) or fails it ("fail"); a
    check that cannot run fails it (closed)."""
    import hashlib

    from veriframe.safety.media.screen import MediaCheckError
    from veriframe.safety.media.screen import screen_output as check

    _, policy = services.policies.live()
    try:
        d = check(video.frames, float(video.fps), policy)
    except (MediaCheckError, ValueError) as error:
        log.error("job %s: output screening could not run: %s", job.id, error)
        return OutputCheck(
            "fail", "OUTPUT_CHECK_FAILED", "The generated video could not be checked, so it was not released."
        )
    with unavailable_as_error(), services.sessions.begin() as s:
        services.ledger.append(
            ev.MEDIA_SCREENED,
            ev.media_screened(
                kind="output",
                decision=d.decision,
                categories=list(d.categories),
                scores=dict(d.scores),
                rule=d.rule,
                frames=d.frames,
                policy_version=policy.version,
                media_sha256=hashlib.sha256(video.frames.tobytes()).hexdigest(),
            ),
            actor="system:safety",
            tenant=job.tenant,
            job_id=job.id,
            session=s,
        )
    if d.decision == "allow":
        return OutputCheck("release", decision=d)
    if d.decision == "review" and policy.media_policy.output_action == "review":
        return OutputCheck("hold", decision=d)
    return OutputCheck("fail", "OUTPUT_BLOCKED", d.user_message, d)
