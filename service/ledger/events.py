"""Ledger event types and their payloads: one builder per event, so every writer records the same fields.

Use them as `ledger.append(events.SUBMITTED, events.submitted(...), actor=..., tenant=..., job_id=...)`.
The schemas are listed in docs/ledger.md. Prompts never enter the ledger, only their keyed commitment
(`veriframe.provenance.prompt_commitment.commit_digest`: events written before it hold a SHA-256).
Builders drop nothing and invent nothing: a field the caller does not know is passed as None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from veriframe.provenance.transparency.leaf import format_time

SUBMITTED = "submitted"
SCREENED = "screened"
REVIEW_QUEUED = "review.queued"
REVIEW_APPROVED = "review.approved"
REVIEW_REJECTED = "review.rejected"
REVIEW_EXPIRED = "review.expired"
GENERATION_STARTED = "generation.started"
GENERATED = "generated"
FAILED = "failed"
CANCELLED = "cancelled"
DOWNLOADED = "downloaded"
VERIFIED = "verified"
ADMIN_POLICY_CHANGED = "admin.policy_changed"
ADMIN_KEY_CREATED = "admin.key_created"
ADMIN_KEY_REVOKED = "admin.key_revoked"
RETENTION_PURGED = "retention.purged"
MEDIA_SCREENED = "media.screened"
GUARD_JUDGED = "guard.judged"  # the guard LLM's verdict on a held prompt and where it routed the job

EVENT_TYPES = (
    SUBMITTED, SCREENED, REVIEW_QUEUED, REVIEW_APPROVED, REVIEW_REJECTED, REVIEW_EXPIRED,
    GENERATION_STARTED, GENERATED, FAILED, CANCELLED, DOWNLOADED, VERIFIED,
    ADMIN_POLICY_CHANGED, ADMIN_KEY_CREATED, ADMIN_KEY_REVOKED, RETENTION_PURGED, MEDIA_SCREENED,
    GUARD_JUDGED,
)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def submitted(*, mode: str, params: dict[str, Any], prompt_commitment: dict[str, str],
              negative_prompt_commitment: dict[str, str] | None, api_key_id: str | None,
              idempotency_key: str | None, request_id: str | None = None) -> dict[str, Any]:
    """A generation request was accepted for screening. `params` must not contain the prompt text."""
    return {"mode": mode, "params": params, "prompt_commitment": prompt_commitment,
            "negative_prompt_commitment": negative_prompt_commitment, "api_key_id": api_key_id,
            "idempotency_key": idempotency_key, "request_id": request_id}


def screened(*, decision: str, categories: list[str], scores: dict[str, float], policy_version: int,
             rule: str | None, prompt_commitment: dict[str, str]) -> dict[str, Any]:
    """The screening decision ("allow" | "review" | "block") with the scores that led to it."""
    return {"decision": decision, "categories": list(categories), "scores": dict(scores),
            "policy_version": policy_version, "rule": rule, "prompt_commitment": prompt_commitment}


def media_screened(*, kind: str, decision: str, categories: list[str], scores: dict[str, float],
                   rule: str | None, frames: int, policy_version: int, media_sha256: str) -> dict[str, Any]:
    """An input image/video (kind "input") or generated frames ("output") checked by safety.media."""
    return {"kind": kind, "decision": decision, "categories": list(categories), "scores": dict(scores),
            "rule": rule, "frames": frames, "policy_version": policy_version, "media_sha256": media_sha256}


def review_queued(
    *, review_id: str, categories: list[str], expires_at: datetime, stage: str | None = None
) -> dict[str, Any]:
    """`stage` "output": a generated video held before release (absent: the request was held)."""
    payload = {"review_id": review_id, "categories": list(categories), "expires_at": _time(expires_at)}
    return payload if stage is None else {**payload, "stage": stage}


def review_decided(*, review_id: str, moderator: str, reason: str | None) -> dict[str, Any]:
    """For review.approved and review.rejected (the outcome is the event type)."""
    return {"review_id": review_id, "moderator": moderator, "reason": reason}


def review_expired(*, review_id: str, expired_at: datetime) -> dict[str, Any]:
    return {"review_id": review_id, "expired_at": _time(expired_at)}


def generation_started(*, worker_id: str, attempt: int, model: str, model_version: str) -> dict[str, Any]:
    return {"worker_id": worker_id, "attempt": attempt, "model": model, "model_version": model_version}


def generated(*, model: str, model_version: str, seed: int, params: dict[str, Any], output_sha256: str,
              manifest_sha256: str, provenance_id: str, frames: int,
              watermark_algorithm: str) -> dict[str, Any]:
    """The video was made, watermarked and signed: everything needed to answer "who made this"."""
    return {"model": model, "model_version": model_version, "seed": seed, "params": params,
            "output_sha256": output_sha256, "manifest_sha256": manifest_sha256,
            "provenance_id": provenance_id, "frames": frames, "watermark_algorithm": watermark_algorithm}


def failed(*, error_code: str, error_message: str, stage: str) -> dict[str, Any]:
    return {"error_code": error_code, "error_message": error_message, "stage": stage}


def cancelled(*, by: str, stage: str) -> dict[str, Any]:
    return {"by": by, "stage": stage}


def downloaded(*, api_key_id: str | None, output_sha256: str, artifact: str = "video") -> dict[str, Any]:
    return {"api_key_id": api_key_id, "output_sha256": output_sha256, "artifact": artifact}


def verified(*, content_sha256: str, verdict: str, provenance_id: str | None, c2pa_valid: bool | None,
             watermark_found: bool, api_key_id: str | None,
             prompt_check: str | None = None) -> dict[str, Any]:
    """A verification request (the uploaded file is not kept, only its hash and the verdict).
    `prompt_check`: the outcome when the caller had a prompt checked (never the prompt)."""
    return {"content_sha256": content_sha256, "verdict": verdict, "provenance_id": provenance_id,
            "c2pa_valid": c2pa_valid, "watermark_found": watermark_found, "api_key_id": api_key_id,
            "prompt_check": prompt_check}


def policy_changed(*, version: int, document_sha256: str, comment: str) -> dict[str, Any]:
    return {"version": version, "document_sha256": document_sha256, "comment": comment}


def key_created(*, key_id: str, prefix: str, role: str, tenant: str, name: str) -> dict[str, Any]:
    return {"key_id": key_id, "prefix": prefix, "role": role, "tenant": tenant, "name": name}


def key_revoked(*, key_id: str, reason: str | None = None) -> dict[str, Any]:
    return {"key_id": key_id, "reason": reason}


def retention_purged(*, job_ids: list[str], before: datetime) -> dict[str, Any]:
    """Prompt texts deleted by retention; their SHA-256 stays on the jobs and in earlier events."""
    return {"count": len(job_ids), "job_ids": sorted(job_ids), "before": _time(before)}
