"""What a moderator sees beside a held job, read from the database the admin domain keeps.

Everything here is blocking (run it in a thread) and gRPC-free. Reads only, except `record_prompt_view`,
which appends a `console.prompt_viewed` event: prompts are sensitive, so every view is in the ledger.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from veriframe.service.auth import Principal

PROMPT_VIEWED = "console.prompt_viewed"
MAX_THUMBNAILS = 4
THUMB_PX = 240
RECENT_PROMPTS = 50


@dataclass(frozen=True)
class QueueRow:
    review: Any  # ReviewView
    age_s: float


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    counts: dict[str, int]  # held items per category (over the filtered queue)
    tenants: list[str]


@dataclass(frozen=True)
class Evidence:
    review: Any  # ReviewView
    normalized: str  # the form the policy rules read
    history: dict[str, int]  # the requester's recent screenings by decision
    inputs: list[str] = field(default_factory=list)  # thumbnails as data: URIs
    outputs: list[str] = field(default_factory=list)  # sampled output frames as data: URIs
    mode: str = "t2v"


def queue(admin: Any, principal: Principal, *, category: str = "", tenant: str = "",
          min_age_s: float = 0.0, limit: int = 500) -> QueuePage:
    """Pending reviews, oldest first, filtered; counts per category over the filtered list."""
    reviews, _ = admin.list_reviews(principal, states=["pending"], tenant=tenant or None, page_size=limit)
    now = datetime.now(timezone.utc)
    rows = [QueueRow(r, (now - r.created_at).total_seconds()) for r in reviews]
    tenants = sorted({r.review.tenant for r in rows})
    rows = [r for r in rows if r.age_s >= min_age_s and (not category or category in r.review.categories)]
    counts = Counter(c for r in rows for c in r.review.categories)
    return QueuePage(rows, dict(sorted(counts.items())), tenants)


def queue_ids(server: Any, *, category: str = "", tenant: str = "", min_age_s: float = 0.0) -> list[str]:
    """The ids of the same filtered queue, oldest first: one query, for an item's next/previous."""
    from sqlalchemy import select

    from veriframe.service.db import ReviewItem

    query = select(ReviewItem.id, ReviewItem.categories, ReviewItem.created_at)
    query = query.where(ReviewItem.state == "pending")
    if tenant:
        query = query.where(ReviewItem.tenant == tenant)
    now = datetime.now(timezone.utc)
    with server.sessions() as s:
        rows = s.execute(query.order_by(ReviewItem.created_at, ReviewItem.id)).all()
    return [rid for rid, categories, created in rows
            if (not category or category in (categories or []))
            and (now - created.replace(tzinfo=created.tzinfo or timezone.utc)).total_seconds() >= min_age_s]


def gather(admin: Any, server: Any, principal: Principal, review_id: str) -> Evidence:
    """The review, the normalised prompt, the requester's history, input and output thumbnails."""
    from veriframe.safety.normalize import normalize
    from veriframe.service.db import Job

    review = admin.get_review(principal, review_id)
    with server.sessions() as s:
        job = s.get(Job, review.job_id)
        params = dict(job.params or {}) if job is not None else {}
        mode = job.mode if job is not None else "t2v"
        owner = job.owner_key_id if job is not None else None
        history = _history(s, owner)
        frames_dir = job.frames_dir if job is not None else None
        # A video held by output screening (flow.holds): frames sampled from the unreleased MP4.
        held_video = job.output_path if job is not None and params.get("held_output") else None
    normalized = normalize(review.prompt).folded if review.prompt else ""
    inputs = _thumbnails_of_input(params.get("input_file"))
    outputs = _thumbnails_of_dir(frames_dir or params.get("screened_frames_dir"))
    if not outputs and held_video:
        outputs = _thumbnails_of_input(held_video)
    return Evidence(review, normalized, history, inputs, outputs, mode)


def record_prompt_view(server: Any, principal: Principal, review: Any) -> None:
    """One ledger event per prompt shown to a moderator (who, which job, which review)."""
    server.ledger.append(PROMPT_VIEWED, {"review_id": review.id, "job_id": review.job_id},
                         actor=principal.key_id, tenant=review.tenant or None, job_id=review.job_id)


def _history(s: Any, owner_key_id: str | None) -> dict[str, int]:
    """The requester's screenings (by API key) among the most recent jobs: allowed / held / blocked."""
    from sqlalchemy import func, select

    from veriframe.service.db import Job

    if not owner_key_id:
        return {}
    rows = s.execute(select(Job.state, func.count()).where(Job.owner_key_id == owner_key_id)
                     .group_by(Job.state)).all()
    by_state = {state: int(n) for state, n in rows}
    return {
        "jobs": sum(by_state.values()),
        "held now": by_state.get("pending_review", 0),
        "rejected": by_state.get("rejected", 0),
        "succeeded": by_state.get("succeeded", 0),
    }


def _data_uri(frame: Any) -> str:
    from PIL import Image

    image = Image.fromarray(frame)
    image.thumbnail((THUMB_PX, THUMB_PX))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _thumbnails_of_input(path: str | None) -> list[str]:
    """The i2v image, or frames sampled from the v2v video; [] when the job has no input."""
    from veriframe.provenance.media import MediaError, read_image, sample_frames

    if not path or not Path(path).is_file():
        return []
    try:
        if path.endswith(".mp4"):
            frames, _, _ = sample_frames(path, MAX_THUMBNAILS)  # (frames, fps, total frames)
            return [_data_uri(f) for f in frames]
        return [_data_uri(read_image(path))]
    except (MediaError, OSError, ValueError):
        return []


def _thumbnails_of_dir(directory: str | None) -> list[str]:
    """Sampled output frames kept for a job held by output screening (PNG files), if any."""
    from veriframe.provenance.media import read_image

    if not directory or not Path(directory).is_dir():
        return []
    files = sorted(Path(directory).glob("*.png"))
    step = max(1, len(files) // MAX_THUMBNAILS)
    out = []
    for file in files[::step][:MAX_THUMBNAILS]:
        try:
            out.append(_data_uri(read_image(file)))
        except (OSError, ValueError):
            continue
    return out


@dataclass(frozen=True)
class Flip:
    job_id: str
    recorded: str
    draft: str
    categories: list[str]


def policy_flips(
    admin: Any, server: Any, principal: Principal, document: dict[str, Any]
) -> tuple[int, list[Flip]]:
    """Screen the most recent stored prompts under a draft policy; the ones whose decision would change.

    Each prompt goes through the admin domain's dry run, so the draft is validated exactly as
    UpdatePolicy would (fails closed) and screened exactly as a submit would. Returns (checked, flips).
    """
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent, PromptText

    with server.sessions() as s:
        newest = select(PromptText).order_by(PromptText.created_at.desc()).limit(RECENT_PROMPTS)
        prompts = list(s.scalars(newest))
        recorded: dict[str, str] = {}
        for p in prompts:
            event = s.scalars(select(AuditEvent).where(AuditEvent.job_id == p.job_id,
                                                      AuditEvent.event_type == "screened")
                              .order_by(AuditEvent.seq.desc()).limit(1)).first()
            recorded[p.job_id] = (event.payload.get("decision") if event is not None else "") or ""
        texts = [(p.job_id, p.text) for p in prompts]
    flips = []
    for job_id, text in texts:
        decision = admin.dry_run(principal, text, policy_document=document)
        if recorded.get(job_id) and decision.decision != recorded[job_id]:
            flips.append(Flip(job_id, recorded[job_id], decision.decision, list(decision.categories)))
    return len(texts), flips


def proof_payload(admin: Any, principal: Principal, seq: int) -> dict[str, Any]:
    """Everything the browser needs to check event `seq` itself: the leaf bytes, the audit path and a
    signed checkpoint with the public key. The server's own 'verified' is deliberately not sent."""
    from veriframe.service.ledger.canonical import event_bytes

    event = admin.get_audit_event(principal, seq)
    proof = admin.inclusion_proof(principal, seq)
    checkpoint = proof.checkpoint
    if checkpoint is None:  # the event is newer than the last checkpoint: sign one that covers it
        checkpoint = admin.get_checkpoint(principal, create=True)
        proof = admin.inclusion_proof(principal, seq, checkpoint.tree_size)
        checkpoint = proof.checkpoint or checkpoint
    return {
        "seq": seq,
        "leaf_index": seq,  # the ledger's seq is the leaf index (0-based)
        "leaf_b64": base64.b64encode(event_bytes(event)).decode(),
        "tree_size": proof.tree_size,
        "path": list(proof.path),
        "checkpoint": {
            "signed_data": checkpoint.signed_data.decode(),
            "signature_b64": base64.b64encode(checkpoint.signature).decode(),
            "key_id": checkpoint.key_id,
            "public_key_pem": checkpoint.public_key_pem,
        },
    }
