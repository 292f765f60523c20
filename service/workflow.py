"""The Veriframe flow, top to bottom, in one place (see ../shared/ARCHITECTURE.md).

    submit():   validate -> safety.screen -> block:  job REJECTED, ledger "screened"(block) -> PromptBlocked
                                            review: job REVIEW + review item, ledger "review.queued"
                                            allow:  job QUEUED
    execute():  (worker, after an atomic claim) engine.generate with progress + cancel
                -> provenance.mark_video (watermark every frame, encode H.264, sign the MP4 [+ frames])
                -> ledger "generated" (output SHA-256, manifest hash, provenance id, model, seed, params)
                   in the same transaction as job SUCCEEDED.

Fail closed: if screening, watermarking, signing or the ledger write fails, no video is released: the
job ends FAILED with a ledger record and its output files are deleted (Download serves only SUCCEEDED
jobs, whose "generated" record committed together with the state).

Everything here is blocking and gRPC-free: the server calls it from threads and maps
`veriframe.service.errors`
to status codes. Heavy libraries (torch, diffusers, c2pa) are imported lazily.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc, select

from veriframe.service import jobs as J
from veriframe.service.auth import Principal
from veriframe.service.db import Job, Policy, PromptText, ReviewItem, unavailable_as_error
from veriframe.service.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PromptBlocked,
    ResourceExhausted,
    Unavailable,
)
from veriframe.service.ledger import events as ev
from veriframe.service.observability import metrics, request_log, tracing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.service.ledger import Ledger
    from veriframe.service.settings import Settings

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# What a requester reads when a job fails on the server's side (the details are in the server's log,
# under the job id): what happened and what to do, never exception text, paths or the prompt.
CLIENT_MESSAGES = {
    "generation": "the video could not be generated because of a server error (logged with the job id); "
    "submit the request again, and contact the operator if it keeps failing",
    "provenance": "the video could not be watermarked and signed, so it was not released (a server error, "
    "logged with the job id); submit the request again, and contact the operator if it keeps failing",
    "ledger": "the audit record could not be written, so the video was not released (a server error, "
    "logged with the job id); submit the request again later",
}
FINGERPRINT = "request_sha256"  # in Job.params: the idempotency check's record of the request
# Job.params entries that are bookkeeping, not engine parameters.
BOOKKEEPING = ("input_file", "return_frames", "resolved", "blocked_categories", FINGERPRINT, "callback_url")
MODES = ("t2v", "i2v", "v2v")
# Inputs are decoded at Submit only up to what the model can take (SubmitLimits sets tighter values);
# these bound the worker's re-read of a stored input.
MAX_INPUT_PIXELS = 2048 * 2048
MAX_INPUT_FRAMES = 161
# Coarse sanity ranges checked at the API (the engine checks the model-specific limits again).
RANGES: dict[str, tuple[float, float]] = {
    "num_inference_steps": (1, 500),
    "guidance_scale": (0.0, 50.0),
    "num_frames": (1, 1000),
    "fps": (1, 120),
    "width": (8, 8192),
    "height": (8, 8192),
}


@dataclass
class SubmitInput:
    """A generation request, as plain data (the server fills it from the protobuf)."""

    prompt: str
    negative_prompt: str = ""
    mode: str = ""  # "" = t2v unless an image or a video is given
    image: bytes = b""
    video: bytes = b""
    strength: float | None = None
    seed: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    num_frames: int | None = None
    fps: int | None = None
    width: int | None = None
    height: int | None = None
    idempotency_key: str = ""
    return_frames: bool = False
    callback_url: str = ""  # webhooks (veriframe.service.webhooks); checked against the allow-list

    def engine_fields(self) -> dict[str, Any]:
        names = (
            "strength",
            "seed",
            "num_inference_steps",
            "guidance_scale",
            "num_frames",
            "fps",
            "width",
            "height",
        )
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def fingerprint(self, mode: str) -> str:
        """SHA-256 of everything that makes this request what it is (prompts and inputs as hashes)."""
        document = {
            "mode": mode,
            "params": self.engine_fields(),
            "return_frames": self.return_frames,
            "prompt_sha256": sha256_text(self.prompt),
            "negative_prompt_sha256": sha256_text(self.negative_prompt),
            "image_sha256": hashlib.sha256(self.image).hexdigest(),
            "video_sha256": hashlib.sha256(self.video).hexdigest(),
        }
        return sha256_text(_canonical(document))


@dataclass
class Artifact:
    path: Path
    filename: str
    content_type: str
    sha256: str
    provenance_id: str
    cleanup: bool = False  # a temporary file (frames zip) to delete after sending


@dataclass
class WorkerContext:
    """What `execute` needs from the worker: its id, its engine, and a stop signal it polls."""

    worker_id: str
    engine: Any
    stop: threading.Event = field(default_factory=threading.Event)  # shutdown or lease lost
    cancel: threading.Event = field(default_factory=threading.Event)  # the requester cancelled
    on_change: Callable[[str], None] = lambda job_id: None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Workflow:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        store: J.JobStore,
        *,
        classifier: Any = None,
        signing_keys: Any = None,
        limits: Any = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.ledger = ledger
        self.store = store
        self._classifier = classifier
        self._signing_keys = signing_keys
        # service.server.model_limits.SubmitLimits: the model's checks, run at Submit without weights.
        self.limits = limits
        # Why this server cannot generate (its model could not be inspected or loaded), or None.
        self.model_error: str | None = None if limits is not None else "the model was not inspected"
        self._policy_cache: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.output_dir = Path(settings.output_dir)
        # PEM roots Verify trusts (settings.trust_anchors + keys_dir/root-ca.pem), read at server start.
        self.trust_anchors: list[bytes] = []

    def set_model_error(self, reason: str | None) -> None:
        """Submit answers UNAVAILABLE with `reason` (the model cannot be loaded) until it is None."""
        if reason is not None:
            log.error("generation unavailable: the model could not be loaded: %s", reason)
        self.model_error = reason

    # ============================================================ submit: validate, screen, queue

    def submit(self, principal: Principal, request: SubmitInput) -> tuple[Job, bool]:
        """(job, deduplicated). Raises InvalidArgument, PromptBlocked, ResourceExhausted, Unavailable."""
        if self.model_error is not None:
            # Never queue what no worker here can run (an API-only server has no workers to fail).
            raise Unavailable(f"the model could not be loaded: {self.model_error}")
        mode = self._validate(request)
        fingerprint = request.fingerprint(mode)
        if request.idempotency_key:
            with unavailable_as_error(), self.sessions() as s:
                earlier = self.store.find_idempotent(s, principal.tenant, request.idempotency_key)
            if earlier is not None:
                return _same_request(earlier, fingerprint), True
        with unavailable_as_error(), self.sessions() as s:
            if self.store.waiting_count(s, principal.tenant) >= self.settings.tenant_queue_cap:
                raise ResourceExhausted(
                    f"tenant {principal.tenant} has {self.settings.tenant_queue_cap} jobs waiting (the cap)",
                    retry_after=30.0,
                    reason="TENANT_QUEUE_FULL",
                )

        # Screening runs before anything is written, outside the write transaction (it takes ~10 ms).
        policy_version, policy = self.live_policy()
        with tracing.stage("screen"):
            decision = self.screen(request.prompt, policy)
        metrics.record_screening(decision.decision, decision.categories)
        state = {"allow": J.QUEUED, "review": J.REVIEW, "block": J.REJECTED}[decision.decision]

        job = Job(
            id=J.new_job_id(),
            tenant=principal.tenant,
            owner_key_id=principal.key_id,
            state=state,
            mode=mode,
            params=request.engine_fields(),
            prompt_sha256=sha256_text(request.prompt),
            idempotency_key=request.idempotency_key or None,
            policy_version=policy_version,
        )
        request_log.note(job_id=job.id)
        job.params["return_frames"] = request.return_frames
        if request.callback_url:
            job.params["callback_url"] = request.callback_url
        job.params[FINGERPRINT] = fingerprint
        if state == J.REJECTED:
            job.params["blocked_categories"] = list(decision.categories)
            job.error_code = "PROMPT_BLOCKED"
            job.error_message = decision.user_message
        input_file = self._store_input(job, request) if state != J.REJECTED else None
        try:
            with unavailable_as_error(), self.sessions.begin() as s:
                s.add(job)
                s.add(
                    PromptText(
                        job_id=job.id,
                        text=request.prompt,
                        negative_text=request.negative_prompt,
                        purge_after=J.utcnow() + timedelta(days=self.settings.prompt_retention_days),
                    )
                )
                s.flush()
                self.ledger.append(
                    ev.SUBMITTED,
                    ev.submitted(
                        mode=mode,
                        params={**request.engine_fields(), "return_frames": request.return_frames},
                        prompt_sha256=job.prompt_sha256,
                        negative_prompt_sha256=sha256_text(request.negative_prompt)
                        if request.negative_prompt
                        else None,
                        api_key_id=principal.key_id,
                        idempotency_key=request.idempotency_key or None,
                    ),
                    actor=principal.key_id,
                    tenant=principal.tenant,
                    job_id=job.id,
                    session=s,
                )
                self.ledger.append(
                    ev.SCREENED,
                    ev.screened(
                        decision=decision.decision,
                        categories=list(decision.categories),
                        scores={k: round(float(v), 6) for k, v in decision.scores.items()},
                        policy_version=policy_version,
                        rule=decision.rule,
                        prompt_sha256=job.prompt_sha256,
                    ),
                    actor="system:safety",
                    tenant=principal.tenant,
                    job_id=job.id,
                    session=s,
                )
                if state == J.REVIEW:
                    self._queue_review(s, job, decision, policy_version, policy.review_ttl_seconds)
        except exc.IntegrityError:
            # The same idempotency key won a race in another request: return that job.
            self._remove_paths(input_file)
            with unavailable_as_error(), self.sessions() as s:
                earlier = self.store.find_idempotent(s, principal.tenant, request.idempotency_key)
            if earlier is None:
                raise
            return _same_request(earlier, fingerprint), True
        except BaseException:
            self._remove_paths(input_file)
            raise
        if state == J.REJECTED:
            metrics.JOBS_FINISHED.labels(outcome=J.REJECTED).inc()
            raise PromptBlocked(decision.user_message, list(decision.categories), job.id)
        return job, False

    def _validate(self, r: SubmitInput) -> str:
        """The mode; InvalidArgument naming the field for anything wrong."""
        if r.callback_url:
            self._check_callback(r.callback_url)
        if not r.prompt.strip():
            raise InvalidArgument("params.prompt", "must not be empty")
        if len(r.prompt) > self.settings.max_prompt_chars:
            raise InvalidArgument("params.prompt", f"longer than {self.settings.max_prompt_chars} characters")
        if len(r.negative_prompt) > self.settings.max_prompt_chars:
            raise InvalidArgument(
                "params.negative_prompt", f"longer than {self.settings.max_prompt_chars} characters"
            )
        if len(r.idempotency_key) > 128:
            raise InvalidArgument("idempotency_key", "at most 128 characters")
        mode = r.mode or ("i2v" if r.image else "v2v" if r.video else "t2v")
        if mode not in MODES:
            raise InvalidArgument("params.mode", f"must be one of {', '.join(MODES)}")
        if mode == "i2v" and not self.settings.i2v_model:
            raise InvalidArgument("params.mode", "this server has no image-to-video model (i2v_model)")
        if mode == "i2v" and not r.image:
            raise InvalidArgument("params.image", "image-to-video needs an image")
        if mode == "v2v" and not r.video:
            raise InvalidArgument("params.video", "video-to-video needs a video")
        if mode != "i2v" and r.image:
            raise InvalidArgument("params.image", f"an image is only used by i2v, not {mode}")
        if mode != "v2v" and r.video:
            raise InvalidArgument("params.video", f"a video is only used by v2v, not {mode}")
        if r.strength is not None and (mode != "v2v" or not 0.0 < r.strength <= 1.0):
            raise InvalidArgument("params.strength", "only for v2v, in (0, 1]")
        for name, (low, high) in RANGES.items():
            value = getattr(r, name)
            if value is not None and not low <= value <= high:
                raise InvalidArgument(f"params.{name}", f"must be between {low:g} and {high:g}")
        if r.seed is not None and not 0 <= r.seed < 2**63:
            raise InvalidArgument("params.seed", "must be in [0, 2**63)")
        if self.limits is None:  # fail closed: nothing is queued unchecked
            raise Unavailable("the model could not be loaded: its limits are unknown")
        image = video = None
        if r.image:
            image = self._decode_input("image", r.image, self.settings.max_input_image_mb)
        if r.video:
            video = self._decode_input("video", r.video, self.settings.max_input_video_mb)
        from veriframe.provenance.watermark import MIN_PIXELS
        from veriframe.service.engine import GenerationParams, InvalidParameter

        try:
            resolved = self.limits.validate(
                GenerationParams(
                    prompt=r.prompt,
                    negative_prompt=r.negative_prompt,
                    mode=mode,
                    image=image,
                    video=video,
                    **r.engine_fields(),
                )
            )
        except InvalidParameter as error:
            raise InvalidArgument(f"params.{error.field}", _message(error)) from error
        if resolved.width * resolved.height < MIN_PIXELS:
            # The watermark cannot mark smaller frames: refuse now, not after the generation.
            raise InvalidArgument(
                "params.width" if r.width is not None or r.height is None else "params.height",
                f"{resolved.width}x{resolved.height} is too small to watermark: width x height must be "
                f"at least {MIN_PIXELS} pixels (e.g. 256x256)",
            )
        return mode

    def _check_callback(self, url: str) -> None:
        from veriframe.service.webhooks import check_callback_url

        if not self.settings.webhook_secret:
            raise InvalidArgument("callback_url", "this server sends no webhooks (no webhook_secret is set)")
        check_callback_url(
            url, schemes=self.settings.webhook_allowed_schemes, hosts=self.settings.webhook_allowed_hosts
        )

    def _decode_input(self, kind: str, data: bytes, limit_mb: int) -> Any:
        """Decode an i2v/v2v input, refusing anything larger than the model can take (never OOM)."""
        from veriframe.provenance.media import MediaError, decode_video, read_image

        if len(data) > limit_mb * MiB:
            raise InvalidArgument(
                f"params.{kind}", f"{len(data)} bytes: larger than the {limit_mb} MiB limit"
            )
        max_pixels = min(MAX_INPUT_PIXELS, self.limits.max_input_pixels)
        max_frames = min(MAX_INPUT_FRAMES, self.limits.max_input_frames)
        try:
            if kind == "image":
                return read_image(data, max_pixels=max_pixels)
            return decode_video(data, max_frames=max_frames, max_pixels=max_pixels)[0]
        except MediaError as error:
            raise InvalidArgument(f"params.{kind}", _media_problem(error)) from error

    def _store_input(self, job: Job, r: SubmitInput) -> Path | None:
        """i2v/v2v inputs live beside the outputs (shared storage when workers run elsewhere)."""
        if not (r.image or r.video):
            return None
        path = self.output_dir / "inputs" / f"{job.id}.{'img' if r.image else 'mp4'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(r.image or r.video)
        job.params["input_file"] = str(path)
        return path

    def _queue_review(
        self, s: Session, job: Job, decision: Any, policy_version: int, ttl_seconds: int
    ) -> None:
        # How long a prompt may wait for a moderator is moderation policy (versioned, in the ledger).
        expires = J.utcnow() + timedelta(seconds=ttl_seconds)
        item = ReviewItem(
            job_id=job.id,
            tenant=job.tenant,
            state="pending",
            categories=list(decision.categories),
            scores={k: float(v) for k, v in decision.scores.items()},
            policy_version=policy_version,
            expires_at=expires,
        )
        s.add(item)
        s.flush()
        self.ledger.append(
            ev.REVIEW_QUEUED,
            ev.review_queued(review_id=item.id, categories=item.categories, expires_at=expires),
            actor="system:safety",
            tenant=job.tenant,
            job_id=job.id,
            session=s,
        )

    # ------------------------------------------------------------ screening and the policy

    def classifier(self) -> Any:
        with self._lock:
            if self._classifier is None:
                if self.settings.classifier_path is not None:
                    from veriframe.safety.classifier import HFClassifier

                    self._classifier = HFClassifier(str(self.settings.classifier_path))
                else:
                    from veriframe.safety.classifier import load_default_classifier

                    self._classifier = load_default_classifier()
            return self._classifier

    def screen(self, prompt: str, policy: Any) -> Any:
        """veriframe.safety.screen; its PromptError (binary, huge...) is the caller's mistake."""
        from veriframe.safety import PromptError, screen

        try:
            return screen(prompt, policy, self.classifier())
        except PromptError as error:
            raise InvalidArgument("params.prompt", str(error)) from error

    def live_policy(self) -> tuple[int, Any]:
        """(version, safety Policy) of the highest version in the database (the default if none)."""
        from veriframe.safety.policy import Policy as SafetyPolicy
        from veriframe.safety.policy import default_policy

        with unavailable_as_error(), self.sessions() as s:
            row = s.scalars(select(Policy).order_by(Policy.version.desc()).limit(1)).first()
            if row is None:
                policy = default_policy()
                return policy.version, policy
            if row.version not in self._policy_cache:
                self._policy_cache[row.version] = SafetyPolicy.from_dict(
                    {**row.document, "version": row.version}
                )
            return row.version, self._policy_cache[row.version]

    def ensure_policy(self) -> int:
        """Store the default policy as version 1 on a fresh database (recorded in the ledger)."""
        from veriframe.safety.policy import default_policy

        try:
            return self._insert_default_policy(default_policy())
        except exc.IntegrityError:  # another server, starting at the same moment, stored it first
            return 0

    def _insert_default_policy(self, policy: Any) -> int:
        with unavailable_as_error(), self.sessions.begin() as s:
            if s.scalar(select(Policy.version).limit(1)) is not None:
                return 0
            document = policy.to_dict()
            s.add(
                Policy(
                    version=policy.version, document=document, created_by="system", comment="default policy"
                )
            )
            s.flush()
            self.ledger.append(
                ev.ADMIN_POLICY_CHANGED,
                ev.policy_changed(
                    version=policy.version,
                    document_sha256=sha256_text(_canonical(document)),
                    comment="default policy",
                ),
                actor="system",
                tenant=None,
                session=s,
            )
            return policy.version

    # ============================================================ execute: generate, mark, record

    def execute(self, job: Job, ctx: WorkerContext) -> str:
        """Run a claimed job to a terminal state (or back to the queue on shutdown); returns the state."""
        from veriframe.service.engine import Cancelled

        out_dir = self.output_dir / job.tenant / job.id
        try:
            with tracing.stage("generate", job_id=job.id), metrics.GENERATION_SECONDS.labels(job.mode).time():
                params, video = self._generate(job, ctx)
        except Cancelled:
            return self._stopped(job, ctx, "running", out_dir)
        except InvalidArgument as error:
            return self._fail(job, ctx, "INVALID_ARGUMENT", error.message, "generation", out_dir)
        except Exception:  # any engine failure ends the job, recorded
            # The details (never the prompt) go to the server's log; the requester gets what to do.
            log.exception("job %s: generation failed", job.id)
            message = CLIENT_MESSAGES["generation"]
            return self._fail(job, ctx, "GENERATION_FAILED", message, "generation", out_dir)
        if ctx.stop.is_set() or ctx.cancel.is_set():
            return self._stopped(job, ctx, "running", out_dir)

        # RUNNING -> FINALIZING, unless a cancel request arrived meanwhile.
        with unavailable_as_error(), self.sessions.begin() as s:
            moved = self.store.transition(
                s,
                job.id,
                owner=ctx.worker_id,
                from_states=(J.RUNNING,),
                to_state=J.FINALIZING,
                extra_where=(Job.cancel_requested.is_(False),),
                params={
                    **job.params,
                    "resolved": {**params, "model": video.model.name, "model_version": video.model.version},
                },
            )
        ctx.on_change(job.id)
        if not moved:
            return self._stopped(job, ctx, "running", out_dir)

        try:
            with tracing.stage("postprocess", job_id=job.id), metrics.POSTPROCESS_SECONDS.time():
                marked = self._mark(job, video, params, out_dir)
        except Exception:  # watermark, encode or sign failed: nothing is released
            log.exception("job %s: provenance failed", job.id)
            message = CLIENT_MESSAGES["provenance"]
            return self._fail(job, ctx, "PROVENANCE_FAILED", message, "provenance", out_dir)

        # The ledger record and SUCCEEDED commit together, or neither does.
        try:
            with unavailable_as_error(), self.sessions.begin() as s:
                done = self.store.transition(
                    s,
                    job.id,
                    owner=ctx.worker_id,
                    from_states=(J.FINALIZING,),
                    to_state=J.SUCCEEDED,
                    provenance_id=marked["provenance_id"],
                    output_path=str(marked["video"]),
                    output_sha256=marked["sha256"],
                    manifest_sha256=marked["manifest_sha256"],
                    frames_dir=str(marked["frames_dir"]) if marked["frames_dir"] else None,
                    progress_step=params.get("denoising_steps", params.get("num_inference_steps", 0)),
                )
                if not done:
                    raise _LeaseLost
                self.ledger.append(
                    ev.GENERATED,
                    ev.generated(
                        model=video.model.name,
                        model_version=video.model.version,
                        seed=int(video.seed),
                        params=params,
                        output_sha256=marked["sha256"],
                        manifest_sha256=marked["manifest_sha256"],
                        provenance_id=marked["provenance_id"],
                        frames=int(video.frames.shape[0]),
                        watermark_algorithm=marked["watermark_algorithm"],
                    ),
                    actor=ctx.worker_id,
                    tenant=job.tenant,
                    job_id=job.id,
                    session=s,
                )
        except _LeaseLost:
            self._remove_paths(out_dir)
            return "lost"
        except Exception:
            log.exception("job %s: ledger write failed", job.id)
            return self._fail(job, ctx, "LEDGER_FAILED", CLIENT_MESSAGES["ledger"], "ledger", out_dir)
        ctx.on_change(job.id)
        J.remove_input(job.params)
        return J.SUCCEEDED

    def _generate(self, job: Job, ctx: WorkerContext) -> tuple[dict[str, Any], Any]:
        from veriframe.service.engine import GenerationParams

        with unavailable_as_error(), self.sessions() as s:
            prompt = s.get(PromptText, job.id)
        if prompt is None:
            raise InvalidArgument("params.prompt", "the prompt text was purged before the job ran")
        engine = ctx.engine.for_mode(job.mode)
        with unavailable_as_error(), self.sessions.begin() as s:
            self.ledger.append(
                ev.GENERATION_STARTED,
                ev.generation_started(
                    worker_id=ctx.worker_id,
                    attempt=job.attempts,
                    model=engine.info.name,
                    model_version=engine.info.version,
                ),
                actor=ctx.worker_id,
                tenant=job.tenant,
                job_id=job.id,
                session=s,
            )
        image = video_in = None
        source = job.params.get("input_file")
        if source:
            from veriframe.provenance.media import decode_video, read_image

            if job.mode == "i2v":
                image = read_image(source, max_pixels=MAX_INPUT_PIXELS)
            else:
                video_in = decode_video(source, max_frames=MAX_INPUT_FRAMES, max_pixels=MAX_INPUT_PIXELS)[0]
        fields = {k: v for k, v in job.params.items() if k not in BOOKKEEPING}
        gp = GenerationParams(
            prompt=prompt.text,
            negative_prompt=prompt.negative_text,
            mode=job.mode,
            image=image,
            video=video_in,
            **fields,
        )
        last = [0.0]
        step_timer = metrics.StepTimer()

        def on_step(step: int, total: int) -> None:
            step_timer(step)
            now = time.monotonic()
            if step >= total or now - last[0] >= 0.2:  # at most 5 progress writes a second
                last[0] = now
                self.store.progress(job.id, ctx.worker_id, step, total)
                ctx.on_change(job.id)

        from veriframe.service.engine import InvalidParameter

        try:
            video = engine.generate(
                gp, on_step=on_step, should_cancel=lambda: ctx.stop.is_set() or ctx.cancel.is_set()
            )
        except InvalidParameter as error:
            raise InvalidArgument(f"params.{error.field}", _message(error)) from error
        # The prompt never enters manifests, job records or the ledger: only its hash does.
        params = {k: v for k, v in video.params.items() if k not in ("prompt", "negative_prompt")}
        return params, video

    def _mark(self, job: Job, video: Any, params: dict[str, Any], out_dir: Path) -> dict[str, Any]:
        """Watermark every frame, encode, sign the MP4 (and the frames when asked)."""
        from veriframe.provenance.ids import format_id, new_provenance_id
        from veriframe.provenance.manifest import ManifestInfo
        from veriframe.provenance.mark import mark_video
        from veriframe.provenance.watermark import WATERMARK_ALGORITHM

        if out_dir.exists():  # a previous attempt's leftovers
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        pid = new_provenance_id()
        info = ManifestInfo(
            provenance_id=pid,
            model_name=video.model.name,
            model_version=video.model.version,
            audit_ref=f"veriframe:job:{job.id}",
            params=params,
            prompt_sha256=job.prompt_sha256,
        )
        frames_dir = out_dir / "frames" if job.params.get("return_frames") else None
        mp4 = out_dir / "video.mp4"
        result = mark_video(video.frames, video.fps, mp4, info, self.signing_keys(), frames_dir=frames_dir)
        manifest_sha = getattr(result, "manifest_sha256", None)
        if not manifest_sha:
            raise RuntimeError("veriframe.provenance.mark returned no manifest hash")
        return {
            "provenance_id": format_id(pid),
            "video": mp4,
            "sha256": result.content_sha256,
            "manifest_sha256": manifest_sha,
            "frames_dir": frames_dir,
            "watermark_algorithm": WATERMARK_ALGORITHM,
        }

    def signing_keys(self) -> Any:
        with self._lock:
            if self._signing_keys is None:
                from veriframe.provenance.keys import load_keys_dir

                self._signing_keys = load_keys_dir(self.settings.keys_dir)
            return self._signing_keys

    def _fail(self, job: Job, ctx: WorkerContext, code: str, message: str, stage: str, out_dir: Path) -> str:
        """Fail closed: remove outputs, then FAILED + a ledger record in one transaction."""
        self._remove_paths(out_dir)
        if ctx.stop.is_set():  # shutting down mid-failure: let another worker retry it
            return self._stopped(job, ctx, stage, out_dir)
        with unavailable_as_error(), self.sessions.begin() as s:
            if self.store.transition(
                s,
                job.id,
                owner=ctx.worker_id,
                from_states=(J.RUNNING, J.FINALIZING),
                to_state=J.FAILED,
                error_code=code,
                error_message=message[:2000],
            ):
                self.ledger.append(
                    ev.FAILED,
                    ev.failed(error_code=code, error_message=message[:2000], stage=stage),
                    actor=ctx.worker_id,
                    tenant=job.tenant,
                    job_id=job.id,
                    session=s,
                )
        J.remove_input(job.params)
        ctx.on_change(job.id)
        return J.FAILED

    def _stopped(self, job: Job, ctx: WorkerContext, stage: str, out_dir: Path) -> str:
        """Cancelled by the requester (CANCELLED), or by shutdown / a lost lease (back to the queue)."""
        self._remove_paths(out_dir)
        if ctx.cancel.is_set() or self._cancel_requested(job.id):
            with unavailable_as_error(), self.sessions.begin() as s:
                if self.store.transition(
                    s,
                    job.id,
                    owner=ctx.worker_id,
                    from_states=(J.RUNNING, J.FINALIZING),
                    to_state=J.CANCELLED,
                    error_code="CANCELLED",
                    error_message="cancelled by the requester",
                ):
                    self.ledger.append(
                        ev.CANCELLED,
                        ev.cancelled(by="requester", stage=stage),
                        actor=ctx.worker_id,
                        tenant=job.tenant,
                        job_id=job.id,
                        session=s,
                    )
            J.remove_input(job.params)
            ctx.on_change(job.id)
            return J.CANCELLED
        self.store.release(job.id, ctx.worker_id, reason="worker stopping")
        ctx.on_change(job.id)
        return J.QUEUED

    def _cancel_requested(self, job_id: str) -> bool:
        with unavailable_as_error(), self.sessions() as s:
            return bool(s.scalar(select(Job.cancel_requested).where(Job.id == job_id)))

    @staticmethod
    def _remove_paths(*paths: Path | None) -> None:
        for path in paths:
            if path is None or not path.exists():
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    # ============================================================ cancel, download, reviews

    def cancel(self, principal: Principal, job_id: str) -> Job:
        """Queued or held jobs end at once; a running one is flagged and stops between steps."""
        job = self.store.get(job_id, tenant=principal.tenant)
        ended = False
        with unavailable_as_error(), self.sessions.begin() as s:
            if job.state in (J.QUEUED, J.REVIEW):
                if self.store.transition(
                    s,
                    job.id,
                    owner=None,
                    from_states=(job.state,),
                    to_state=J.CANCELLED,
                    error_code="CANCELLED",
                    error_message="cancelled by the requester",
                ):
                    s.execute(
                        ReviewItem.__table__.update()
                        .where(ReviewItem.job_id == job.id, ReviewItem.state == "pending")
                        .values(
                            state="expired",
                            decided_by=principal.key_id,
                            decided_at=J.utcnow(),
                            reason="the requester cancelled the job",
                        )
                    )
                    self.ledger.append(
                        ev.CANCELLED,
                        ev.cancelled(by=principal.key_id, stage=job.state),
                        actor=principal.key_id,
                        tenant=job.tenant,
                        job_id=job.id,
                        session=s,
                    )
                    ended = True
            elif job.state == J.RUNNING:
                from sqlalchemy import update

                s.execute(
                    update(Job).where(Job.id == job.id, Job.state == J.RUNNING).values(cancel_requested=True)
                )
            elif job.state == J.FINALIZING:
                raise FailedPrecondition("the video is being signed: too late to cancel", reason="TOO_LATE")
            elif job.state in J.TERMINAL:
                raise FailedPrecondition(
                    f"job {job.id} already ended ({J.API_STATE[job.state]})", reason="JOB_ENDED"
                )
        if ended:
            J.remove_input(job.params)
        return self.store.get(job.id)

    def artifact(self, principal: Principal, job_id: str, what: str, frame_index: int = 0) -> Artifact:
        """The file to send for Download ("video" | "frames_zip" | "frame"), recorded as downloaded."""
        job = self.store.get(job_id, tenant=principal.tenant)
        if job.state != J.SUCCEEDED or not job.output_path:
            raise FailedPrecondition(
                f"job {job.id} has no video: it is {J.API_STATE[job.state]}", reason="NOT_READY"
            )
        if what == "video":
            art = Artifact(
                Path(job.output_path),
                f"{job.id}.mp4",
                "video/mp4",
                job.output_sha256 or "",
                job.provenance_id or "",
            )
        else:
            if not job.frames_dir:
                raise FailedPrecondition("this job was submitted without return_frames", reason="NO_FRAMES")
            frames = sorted(Path(job.frames_dir).glob("*.png"))
            if what == "frame":
                if not 0 <= frame_index < len(frames):
                    raise InvalidArgument("frame_index", f"must be in [0, {len(frames)})")
                art = Artifact(
                    frames[frame_index],
                    frames[frame_index].name,
                    "image/png",
                    sha256_file(frames[frame_index]),
                    job.provenance_id or "",
                )
            else:
                art = self._zip_frames(job, frames)
        if not art.path.is_file():
            raise FailedPrecondition(
                f"the output of job {job.id} is missing on this server", reason="NO_OUTPUT"
            )
        self.ledger.append(
            ev.DOWNLOADED,
            ev.downloaded(api_key_id=principal.key_id, output_sha256=art.sha256, artifact=what),
            actor=principal.key_id,
            tenant=job.tenant,
            job_id=job.id,
        )
        return art

    def _zip_frames(self, job: Job, frames: list[Path]) -> Artifact:
        import os
        import tempfile
        import zipfile

        descriptor, name = tempfile.mkstemp(prefix=f"{job.id}-", suffix=".zip")
        os.close(descriptor)
        path = Path(name)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for frame in frames:  # PNGs are compressed already; signed bytes must stay untouched
                archive.write(frame, frame.name)
        return Artifact(
            path,
            f"{job.id}-frames.zip",
            "application/zip",
            sha256_file(path),
            job.provenance_id or "",
            cleanup=True,
        )

    def approve_review(self, principal: Principal, review_id: str, reason: str = "") -> ReviewItem:
        """The held job goes to the queue; recorded with the moderator's key id."""
        return self._decide(principal, review_id, approve=True, reason=reason)

    def reject_review(self, principal: Principal, review_id: str, reason: str) -> ReviewItem:
        """The held job becomes REJECTED; the requester sees `reason`."""
        if not reason.strip():
            raise InvalidArgument("reason", "a rejection needs a reason (the requester sees it)")
        return self._decide(principal, review_id, approve=False, reason=reason)

    def _decide(self, principal: Principal, review_id: str, *, approve: bool, reason: str) -> ReviewItem:
        with unavailable_as_error(), self.sessions.begin() as s:
            item = s.get(ReviewItem, review_id) if 0 < len(review_id) <= 36 else None
            if item is None:
                raise NotFound(f"review {review_id} not found")
            if item.state != "pending":
                raise FailedPrecondition(
                    f"review {review_id} is already {item.state}", reason="REVIEW_DECIDED"
                )
            if J.aware(item.expires_at) <= J.utcnow():
                raise FailedPrecondition(f"review {review_id} expired", reason="REVIEW_EXPIRED")
            item.state = "approved" if approve else "rejected"
            item.decided_by, item.decided_at, item.reason = principal.key_id, J.utcnow(), reason or None
            if approve:
                moved = self.store.transition(
                    s, item.job_id, owner=None, from_states=(J.REVIEW,), to_state=J.QUEUED
                )
            else:
                moved = self.store.transition(
                    s,
                    item.job_id,
                    owner=None,
                    from_states=(J.REVIEW,),
                    to_state=J.REJECTED,
                    error_code="REVIEW_REJECTED",
                    error_message=reason,
                )
            if not moved:
                raise FailedPrecondition(
                    f"the job of review {review_id} is no longer held", reason="JOB_NOT_HELD"
                )
            rejected_params = None if approve else s.scalar(select(Job.params).where(Job.id == item.job_id))
            self.ledger.append(
                ev.REVIEW_APPROVED if approve else ev.REVIEW_REJECTED,
                ev.review_decided(review_id=item.id, moderator=principal.key_id, reason=reason or None),
                actor=principal.key_id,
                tenant=item.tenant,
                job_id=item.job_id,
                session=s,
            )
        J.remove_input(rejected_params)  # after the commit: a rolled-back rejection keeps the input
        return item

    def expire_reviews(self, now: datetime | None = None) -> list[str]:
        """Pending reviews past `expires_at`: review EXPIRED, job REJECTED (REVIEW_EXPIRED), recorded."""
        now = now or J.utcnow()
        with unavailable_as_error(), self.sessions() as s:
            ids = list(
                s.scalars(
                    select(ReviewItem.id).where(ReviewItem.state == "pending", ReviewItem.expires_at < now)
                )
            )
        expired = []
        for review_id in ids:
            with unavailable_as_error(), self.sessions.begin() as s:
                item = s.get(ReviewItem, review_id)
                if item is None or item.state != "pending":
                    continue
                item.state, item.decided_at, item.decided_by = "expired", now, "system:reviews"
                params = s.scalar(select(Job.params).where(Job.id == item.job_id))
                self.store.transition(
                    s,
                    item.job_id,
                    owner=None,
                    from_states=(J.REVIEW,),
                    to_state=J.REJECTED,
                    error_code="REVIEW_EXPIRED",
                    error_message="no moderator decided in time; please submit again",
                )
                self.ledger.append(
                    ev.REVIEW_EXPIRED,
                    ev.review_expired(review_id=item.id, expired_at=now),
                    actor="system:reviews",
                    tenant=item.tenant,
                    job_id=item.job_id,
                    session=s,
                )
            J.remove_input(params)
            expired.append(review_id)
        return expired

    # ============================================================ verify

    def verify(self, principal: Principal, path: Path) -> dict[str, Any]:
        """veriframe-verify's checks on an uploaded file, plus the ledger's record and its proof."""
        from veriframe.provenance.verify import verify_file

        report = verify_file(path, trust_anchors=self.trust_anchors)
        data = report.to_json()
        if isinstance(data, str):
            import json

            data = json.loads(data)
        file_sha = sha256_file(path)
        pid = (data.get("watermark") or {}).get("id") or (data.get("c2pa") or {}).get("provenance_id")
        audit = self._audit_lookup(principal, pid, data, file_sha)
        self.ledger.append(
            ev.VERIFIED,
            ev.verified(
                content_sha256=file_sha,
                verdict=str(data.get("verdict")),
                provenance_id=pid,
                c2pa_valid=(data.get("c2pa") or {}).get("valid"),
                watermark_found=bool((data.get("watermark") or {}).get("found")),
                api_key_id=principal.key_id,
            ),
            actor=principal.key_id,
            tenant=principal.tenant,
        )
        return {"report": data, "audit": audit, "sha256": file_sha}

    def _audit_lookup(
        self, principal: Principal, pid: str | None, data: dict[str, Any], file_sha: str
    ) -> dict[str, Any]:
        from veriframe.service.db import AuditEvent

        if not pid:
            return {"found": False}
        with unavailable_as_error(), self.sessions() as s:
            job = s.scalars(select(Job).where(Job.provenance_id == pid)).first()
            event = (
                None
                if job is None
                else s.scalars(
                    select(AuditEvent).where(
                        AuditEvent.job_id == job.id, AuditEvent.event_type == ev.GENERATED
                    )
                ).first()
            )
        if job is None or event is None:
            return {"found": False}
        # Prove against the latest signed checkpoint when it covers the event, else the current tree.
        checkpoint = self.ledger.latest_checkpoint()
        if checkpoint is not None and event.seq < checkpoint.tree_size:
            proof = self.ledger.inclusion_proof(event.seq, checkpoint.tree_size)
        else:
            checkpoint = None
            proof = self.ledger.inclusion_proof(event.seq)
        manifest_sha = (data.get("c2pa") or {}).get("manifest_sha256") or data.get("manifest_sha256")
        # Only the owning tenant and staff see whose video it is and the record's contents; anyone
        # else (another tenant, a public verifier) gets the leaf's seq and hash and the proof: enough to
        # check inclusion, nothing about the job (tenant, key id, seed, params, leaf bytes).
        see_owner = principal.is_staff or principal.tenant == job.tenant
        return {
            "found": True,
            "disclosed": see_owner,
            "job_id": job.id if see_owner else "",
            "tenant": job.tenant if see_owner else "",
            "event": event,
            "proof": proof,
            "proof_ok": proof.verify(),
            "checkpoint": checkpoint,
            "manifest_matches": bool(manifest_sha) and manifest_sha == event.payload.get("manifest_sha256"),
            "video_matches": file_sha == event.payload.get("output_sha256"),
        }


class _LeaseLost(Exception):
    """Another worker owns the job now (our lease expired): write nothing."""


def _same_request(earlier: Job, fingerprint: str) -> Job:
    """The earlier job of an idempotency key, if it was made by this very request."""
    recorded = (earlier.params or {}).get(FINGERPRINT)
    if recorded is not None and recorded != fingerprint:
        raise InvalidArgument(
            "idempotency_key",
            f"already used for a different request (job {earlier.id}); use a new key for a new request",
        )
    return earlier


def _media_problem(error: Exception) -> str:
    """A MediaError's reason without the name of any server-side file it mentions."""
    text = str(error)
    head, sep, tail = text.partition(": ")
    return tail if sep and ("/" in head or "\\" in head or head.startswith("<")) else text


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)


def _canonical(document: Any) -> str:
    import json

    return json.dumps(document, sort_keys=True, separators=(",", ":"))
