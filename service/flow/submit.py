"""Submit's steps: validate, deduplicate, admit, and record the job with its screening decision.

`veriframe.service.flow.workflow.Workflow.submit` calls them in order (docs/architecture.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.provenance.prompt_commitment import PromptKeyError, commit_digest, commit_prompt
from veriframe.service import params as schema
from veriframe.service.clock import utcnow
from veriframe.service.db import Job, PromptText, unavailable_as_error
from veriframe.service.errors import InvalidArgument, ResourceExhausted, Unavailable
from veriframe.service.flow import reviews
from veriframe.service.flow.commitments import job_commitment, prompt_key, same_request
from veriframe.service.flow.types import (
    FINGERPRINT,
    MiB,
    Services,
    SubmitInput,
    message_of,
    remove_paths,
)
from veriframe.service.ledger import events as ev
from veriframe.service.observability import request_log
from veriframe.service.store import jobs as J
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from veriframe.service.auth import Principal

# Inputs are decoded at Submit only up to what the model can take (SubmitLimits sets tighter values);
# these bound the worker's re-read of a stored input.
MAX_INPUT_PIXELS = 2048 * 2048
MAX_INPUT_FRAMES = schema.MAX_FRAMES
MAX_IDEMPOTENCY_KEY = 128
STATE_OF_DECISION = {"allow": S.QUEUED, "review": S.REVIEW, "block": S.REJECTED}


def validate(services: Services, r: SubmitInput) -> str:
    """The mode; InvalidArgument naming the field for anything wrong (schema, then the model)."""
    settings = services.settings
    if not r.prompt.strip():
        raise InvalidArgument("params.prompt", "must not be empty")
    for name in ("prompt", "negative_prompt"):
        if len(getattr(r, name)) > settings.max_prompt_chars:
            raise InvalidArgument(f"params.{name}", f"longer than {settings.max_prompt_chars} characters")
    if len(r.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument("idempotency_key", f"at most {MAX_IDEMPOTENCY_KEY} characters")
    if r.callback_url:
        _check_callback(settings, r.callback_url)
    try:
        mode = schema.resolve_mode(
            r.mode, has_image=bool(r.image), has_video=bool(r.video), has_strength=r.strength is not None
        )
        schema.check_all(r.engine_fields())
    except schema.ParameterError as error:
        raise InvalidArgument(f"params.{error.field}", error.message) from None
    if mode == "i2v" and not settings.i2v_model:
        raise InvalidArgument("params.mode", "this server has no image-to-video model (i2v_model)")
    if services.limits is None:  # fail closed: nothing is queued unchecked
        raise Unavailable("the model could not be loaded: its limits are unknown")
    _check_against_model(services, r, mode)
    return mode


def _check_against_model(services: Services, r: SubmitInput, mode: str) -> None:
    """The engine's own checks, run on the model's configs (no weights), and the watermark's minimum."""
    from veriframe.provenance.watermark import MIN_PIXELS
    from veriframe.service.engine import GenerationParams, InvalidParameter

    settings = services.settings
    image = decode_input(services, "image", r.image, settings.max_input_image_mb) if r.image else None
    video = decode_input(services, "video", r.video, settings.max_input_video_mb) if r.video else None
    try:
        resolved = services.limits.validate(
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
        raise InvalidArgument(f"params.{error.field}", message_of(error)) from error
    if resolved.width * resolved.height < MIN_PIXELS:
        # The watermark cannot mark smaller frames: refuse now, not after the generation.
        raise InvalidArgument(
            "params.width" if r.width is not None or r.height is None else "params.height",
            f"{resolved.width}x{resolved.height} is too small to watermark: width x height must be "
            f"at least {MIN_PIXELS} pixels (e.g. 256x256)",
        )


def decode_input(services: Services, kind: str, data: bytes, limit_mb: int) -> Any:
    """Decode an i2v/v2v input, refusing anything larger than the model can take (never OOM)."""
    from veriframe.provenance.media import MediaError, decode_video, read_image

    if len(data) > limit_mb * MiB:
        raise InvalidArgument(f"params.{kind}", f"{len(data)} bytes: larger than the {limit_mb} MiB limit")
    max_pixels = min(MAX_INPUT_PIXELS, services.limits.max_input_pixels)
    max_frames = min(MAX_INPUT_FRAMES, services.limits.max_input_frames)
    try:
        if kind == "image":
            return read_image(data, max_pixels=max_pixels)
        return decode_video(data, max_frames=max_frames, max_pixels=max_pixels)[0]
    except MediaError as error:
        raise InvalidArgument(f"params.{kind}", _media_problem(error)) from error


def earlier_job(services: Services, principal: Principal, r: SubmitInput, digest: str) -> Job | None:
    """The job an earlier Submit with this idempotency key made, if it was this very request
    (`digest`: `SubmitInput.request_sha256`)."""
    if not r.idempotency_key:
        return None
    with unavailable_as_error(), services.sessions() as s:
        earlier = services.store.find_idempotent(s, principal.tenant, r.idempotency_key)
    if earlier is None:
        return None
    try:
        same = same_request(earlier.params or {}, digest, prompt_key(services))
    except PromptKeyError:
        raise InvalidArgument(
            "idempotency_key",
            f"already used for job {earlier.id}, recorded under a prompt-commitment key this server no "
            "longer uses, so it cannot tell whether this is the same request; use a new key",
        ) from None
    if same is False:
        raise InvalidArgument(
            "idempotency_key",
            f"already used for a different request (job {earlier.id}); use a new key for a new request",
        )
    return earlier


def admit(services: Services, principal: Principal) -> None:
    """ResourceExhausted when the tenant already has its cap of jobs waiting."""
    cap = services.settings.tenant_queue_cap
    with unavailable_as_error(), services.sessions() as s:
        if services.store.waiting_count(s, principal.tenant) >= cap:
            raise ResourceExhausted(
                f"tenant {principal.tenant} has {cap} jobs waiting (the cap)",
                retry_after=30.0,
                reason="TENANT_QUEUE_FULL",
            )


def _check_callback(settings: Any, url: str) -> None:
    from veriframe.service.webhooks import check_callback_url

    if not settings.webhook_secret:
        raise InvalidArgument("callback_url", "this server sends no webhooks (no webhook_secret is set)")
    check_callback_url(url, schemes=settings.webhook_allowed_schemes, hosts=settings.webhook_allowed_hosts)


def new_job(
    services: Services,
    principal: Principal,
    r: SubmitInput,
    mode: str,
    digest: str,
    decision: Any,
    policy_version: int,
) -> Job:
    """The job row for a screened request (not yet stored): QUEUED, REVIEW or REJECTED.

    It records the prompt's commitment and the request's, never a plain hash (`digest`, the request's
    SHA-256, and the prompt's own SHA-256 live only in this call)."""
    state = STATE_OF_DECISION[decision.decision]
    key = prompt_key(services)
    commitment = commit_prompt(r.prompt, key)
    job = Job(
        id=J.new_job_id(),
        tenant=principal.tenant,
        owner_key_id=principal.key_id,
        state=state,
        mode=mode,
        params={
            **r.engine_fields(), "return_frames": r.return_frames, FINGERPRINT: commit_digest(digest, key)
        },
        prompt_commitment=commitment["value"],
        prompt_key_id=commitment["key_id"],
        idempotency_key=r.idempotency_key or None,
        policy_version=policy_version,
    )
    if r.callback_url:
        job.params["callback_url"] = r.callback_url
    request_log.note(job_id=job.id)
    if state == S.REJECTED:
        job.params["blocked_categories"] = list(decision.categories)
        job.error_code = "PROMPT_BLOCKED"
        job.error_message = decision.user_message
    return job


def store_input(services: Services, job: Job, r: SubmitInput) -> Path | None:
    """i2v/v2v inputs live beside the outputs (shared storage when workers run elsewhere)."""
    if job.state == S.REJECTED or not (r.image or r.video):
        return None
    from veriframe.service.flow import publish

    recorded = publish.store_input(services, job.id, "img" if r.image else "mp4", r.image or r.video)
    job.params["input_file"] = recorded
    return Path(recorded) if Path(recorded).is_absolute() else None


def record(
    services: Services,
    principal: Principal,
    r: SubmitInput,
    job: Job,
    decision: Any,
    policy: Any,
    media: Any = None,
) -> None:
    """ONE transaction: the job, its prompt text (purged later), "submitted", "screened" and, when
    held, the review item. IntegrityError: the idempotency key won a race in another request."""
    input_file = store_input(services, job, r)
    try:
        with unavailable_as_error(), services.sessions.begin() as s:
            s.add(job)
            s.add(
                PromptText(
                    job_id=job.id,
                    text=r.prompt,
                    negative_text=r.negative_prompt,
                    purge_after=utcnow() + timedelta(days=services.settings.prompt_retention_days),
                )
            )
            s.flush()
            _record_events(services, s, principal, r, job, decision)
            if media is not None:
                _record_media(services, s, principal, r, job, media)
            if job.state == S.REVIEW:
                reviews.queue(services, s, job, decision, policy.review_ttl_seconds)
    except BaseException:
        remove_paths(input_file)
        raise


def _record_events(
    services: Services, s: Session, principal: Principal, r: SubmitInput, job: Job, decision: Any
) -> None:
    key = prompt_key(services)
    commitment = job_commitment(job, key)
    services.ledger.append(
        ev.SUBMITTED,
        ev.submitted(
            mode=job.mode,
            params={**r.engine_fields(), "return_frames": r.return_frames},
            prompt_commitment=commitment,
            negative_prompt_commitment=commit_prompt(r.negative_prompt, key) if r.negative_prompt else None,
            api_key_id=principal.key_id,
            idempotency_key=r.idempotency_key or None,
        ),
        actor=principal.key_id,
        tenant=principal.tenant,
        job_id=job.id,
        session=s,
    )
    services.ledger.append(
        ev.SCREENED,
        ev.screened(
            decision=decision.decision,
            categories=list(decision.categories),
            scores={k: round(float(v), 6) for k, v in decision.scores.items()},
            policy_version=job.policy_version,
            rule=decision.rule,
            prompt_commitment=commitment,
        ),
        actor="system:safety",
        tenant=principal.tenant,
        job_id=job.id,
        session=s,
    )


def _record_media(
    services: Services, s: Session, principal: Principal, r: SubmitInput, job: Job, media: Any
) -> None:
    """The input's media decision (scores, never the image), beside "screened"."""
    import hashlib

    services.ledger.append(
        ev.MEDIA_SCREENED,
        ev.media_screened(
            kind=media.kind,
            decision=media.decision,
            categories=list(media.categories),
            scores={k: round(float(v), 6) for k, v in media.scores.items()},
            rule=media.rule,
            frames=media.frames,
            policy_version=job.policy_version,
            media_sha256=hashlib.sha256(r.image or r.video).hexdigest(),
        ),
        actor="system:safety",
        tenant=principal.tenant,
        job_id=job.id,
        session=s,
    )


def _media_problem(error: Exception) -> str:
    """A MediaError's reason without the name of any server-side file it mentions."""
    text = str(error)
    head, sep, tail = text.partition(": ")
    return tail if sep and ("/" in head or "\\" in head or head.startswith("<")) else text
