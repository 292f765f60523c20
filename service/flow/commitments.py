"""Jobs' keyed prompt commitments, and the conversion of rows that still hold a plain SHA-256.

A job records `HMAC-SHA256(prompt key, SHA-256(prompt))` and the key's id
(`veriframe.provenance.prompt_commitment.commit_digest`), the very commitment its signed manifest
carries, never the SHA-256 itself: anyone reading a row, a backup or an API answer could confirm a
guessed prompt from a plain hash. Rows written before migration 0007 hold `prompt_sha256` and a plain
request fingerprint; because the HMAC needs only the stored digest and the key, they can be
converted without the prompt (`convert_prompt_hashes`, run by `veriframe db convert-prompt-hashes`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from veriframe.provenance.prompt_commitment import ALGORITHM, PromptKey, PromptKeyError, commit_digest
from veriframe.service.db import Job, unavailable_as_error
from veriframe.service.errors import Unavailable
from veriframe.service.flow.types import FINGERPRINT, LEGACY_FINGERPRINT

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.service.flow.types import Services

log = logging.getLogger(__name__)
DEFAULT_BATCH = 500


def prompt_key(services: Services) -> PromptKey:
    """The deployment's prompt key (loaded at server start); Unavailable, logged, when it is not."""
    try:
        return services.signing.prompt_key()
    except (PromptKeyError, OSError) as error:
        log.error("the prompt-commitment key is not usable: %s", error)
        raise Unavailable(
            "the server cannot record the prompt (its prompt-commitment key is not usable; the operator "
            "has it in the server log); try again later"
        ) from None


def same_request(params: dict[str, Any], digest: str, key: PromptKey) -> bool | None:
    """Whether the fingerprint in a job's params is that of the request whose `request_sha256` is
    `digest`; None when the job has none (rows from before idempotency fingerprints).

    PromptKeyError when it was recorded under another prompt key (rotated since): then nobody here
    can tell."""
    committed, legacy = params.get(FINGERPRINT), params.get(LEGACY_FINGERPRINT)
    if isinstance(committed, dict):
        if committed.get("key_id") != key.key_id:
            raise PromptKeyError(f"recorded under prompt key {committed.get('key_id')!r}, not {key.key_id!r}")
        return hmac.compare_digest(str(committed.get("value", "")), commit_digest(digest, key)["value"])
    if legacy is not None:  # a row from before 0007, not yet converted
        return hmac.compare_digest(str(legacy), digest)
    return None


def job_commitment(job: Job, key: PromptKey) -> dict[str, str]:
    """The commitment a job's manifest carries: the one its row records (so the two are equal), or,
    for a row from before 0007 not yet converted, the one made now from its SHA-256."""
    if job.prompt_commitment and job.prompt_key_id:
        return {"alg": ALGORITHM, "key_id": job.prompt_key_id, "value": job.prompt_commitment}
    if job.prompt_sha256:
        return commit_digest(job.prompt_sha256, key)
    raise ValueError(f"job {job.id} records neither a prompt commitment nor a prompt SHA-256")


def _unconverted() -> Any:
    # The request fingerprint is looked for too: a worker that read a job before it was converted
    # writes its params back whole, plain fingerprint included, and a later run must find that row.
    return or_(Job.prompt_sha256.is_not(None), Job.params[LEGACY_FINGERPRINT].as_string().is_not(None))


def unconverted_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Job).where(_unconverted())) or 0)


def has_unconverted(session: Session) -> bool:
    return session.scalar(select(Job.id).where(_unconverted()).limit(1)) is not None


def convert_row(job: Job, key: PromptKey) -> None:
    """Replace the row's plain SHA-256 and plain request fingerprint with their commitments."""
    if job.prompt_sha256 is not None:
        if not job.prompt_commitment:
            made = commit_digest(job.prompt_sha256, key)
            job.prompt_commitment, job.prompt_key_id = made["value"], made["key_id"]
        job.prompt_sha256 = None
    params = dict(job.params or {})
    legacy = params.pop(LEGACY_FINGERPRINT, None)
    if legacy is not None:
        # HMAC over the old fingerprint is exactly what Submit records now (flow.submit), so a retry
        # of the old request still deduplicates against the converted row.
        params.setdefault(FINGERPRINT, commit_digest(str(legacy), key))
        job.params = params


def convert_prompt_hashes(
    sessions: sessionmaker[Session],
    key: PromptKey,
    *,
    batch: int = DEFAULT_BATCH,
    on_batch: Callable[[int], None] = lambda converted: None,
) -> int:
    """Convert every row that holds a plain prompt SHA-256 or request fingerprint; the count.

    One transaction per batch of `batch` rows, each row locked while it is rewritten: a crash rolls
    the batch back whole (a row never keeps half its change), and a second run picks up what is left
    and leaves converted rows alone."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    total = 0
    while True:
        with unavailable_as_error(), sessions.begin() as s:
            query = select(Job).where(_unconverted()).order_by(Job.id).limit(batch).with_for_update()
            rows = list(s.scalars(query))
            for job in rows:
                try:
                    convert_row(job, key)
                except ValueError as error:  # a malformed digest: nothing of this batch is written
                    raise ValueError(f"job {job.id}: {error}") from None
        if not rows:
            return total
        total += len(rows)
        on_batch(total)
