"""The relational schema: SQLAlchemy 2 typed models.

These classes describe the tables for the ORM; they never create them. The schema is made only by
the Alembic migrations in `migrations/` (see `veriframe.service.db.migrate`), on SQLite and PostgreSQL alike,
so a change here needs a new migration beside it.

Conventions: ids are UUID strings (portable, no sequences to coordinate between API servers),
times are timezone-aware UTC, SHA-256 digests are lower-case hex.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from veriframe.service.clock import utcnow
from veriframe.service.params import MODES
from veriframe.service.roles import ROLES
from veriframe.service.store.states import JOB_STATES, REVIEW_STATES

# Deterministic constraint names, so migrations can refer to (and drop) them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy's documented class attribute)
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class ApiKey(Base):
    """An API key. Only a hash of the secret is kept; `prefix` is the public part used to find it."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class Job(Base):
    """A generation request and its durable queue state (claimed by workers with a lease)."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
        CheckConstraint(f"state IN {JOB_STATES!r}", name="state"),
        CheckConstraint(f"mode IN {MODES!r}", name="mode"),
        # The worker's claim query: oldest queued job first.
        Index("ix_jobs_state_created_at", "state", "created_at"),
        Index("ix_jobs_tenant_created_at", "tenant", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(128))
    # Nullable: jobs made by an operator tool on the server itself have no API key.
    owner_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    mode: Mapped[str] = mapped_column(String(8), default="t2v")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The keyed prompt commitment (`veriframe.provenance.prompt_commitment`, HMAC-SHA256 over the
    # prompt's SHA-256) and the id of the key that made it: what the job's signed manifest commits to.
    prompt_commitment: Mapped[str | None] = mapped_column(String(64))
    prompt_key_id: Mapped[str | None] = mapped_column(String(16))
    # The unsalted SHA-256 of rows from before 0007 (confirmable by hashing a guessed prompt), until
    # `veriframe db convert-prompt-hashes` replaces it with the commitment; NULL on every newer row.
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    progress_step: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    # `veriframe.provenance.ids.format_id(...)`: 16 hex digits (a 64-bit id does not fit a signed BIGINT).
    provenance_id: Mapped[str | None] = mapped_column(String(16), index=True)
    output_path: Mapped[str | None] = mapped_column(Text)
    output_sha256: Mapped[str | None] = mapped_column(String(64))
    # Bytes of the signed video; NULL on rows from before 0005 (their local file is stat'ed instead).
    output_size: Mapped[int | None] = mapped_column(BigInteger)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    frames_dir: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PromptText(Base):
    """The prompt itself, kept apart from the job and the ledger so retention can delete it.

    The ledger and the job keep only the keyed prompt commitment, so purging this row leaves the log
    verifiable.
    """

    __tablename__ = "prompt_texts"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    negative_text: Mapped[str] = mapped_column(Text, default="")
    purge_after: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Policy(Base):
    """A moderation policy version (`Policy.to_dict()` in safety); the highest version is active."""

    __tablename__ = "policies"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    comment: Mapped[str] = mapped_column(Text, default="")


class ReviewItem(Base):
    """A prompt held for a moderator (pending -> approved | rejected | expired)."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(f"state IN {REVIEW_STATES!r}", name="state"),
        Index("ix_review_items_state_expires_at", "state", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    tenant: Mapped[str] = mapped_column(String(128), default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    categories: Mapped[list[Any]] = mapped_column(default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One ledger event: leaf `seq` (0-based, dense) of the RFC 6962 Merkle tree.

    Append-only: a migration installs triggers refusing UPDATE and DELETE. The leaf is the canonical
    JSON of (seq, type, time, actor, tenant, job_id, payload); see `veriframe.service.ledger.canonical`.
    No foreign keys: the record must outlive (and never block) the rows it talks about.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_job_id", "job_id"),
        Index("ix_audit_events_event_type_time", "event_type", "time"),
    )

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    event_type: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(255))
    tenant: Mapped[str | None] = mapped_column(String(128))
    job_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]]
    leaf_hash: Mapped[str] = mapped_column(String(64))
    # The leaf format the event was hashed with (1: sorted-key JSON, 2: RFC 8785); migration 0003.
    leaf_version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")


class MerkleNode(Base):
    """A complete interior node of the tree (level >= 1), written once when its subtree fills.

    Level k, index i covers leaves [i * 2**k, (i + 1) * 2**k). With these, proofs need O(log n)
    lookups instead of rehashing every leaf. Append-only like the events.
    """

    __tablename__ = "merkle_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class LedgerHead(Base):
    """The single row (id=1) every append locks: tree size, root and the frontier of the tree.

    `frontier` lists the hashes of the perfect subtrees that make up the tree, largest first, so an
    append computes the new nodes and root without reading any other row.
    """

    __tablename__ = "ledger_head"
    __table_args__ = (CheckConstraint("id = 1", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    root_hash: Mapped[str] = mapped_column(String(64))
    frontier: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The C2SP signed note over (tree_size, root_hash), written with every append (migration 0003).
    checkpoint_note: Mapped[str | None] = mapped_column(Text)


class Checkpoint(Base):
    """A signed tree head: `body` (the exact signed bytes, see docs/ledger.md) and its ES256 signature."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tree_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    # The full C2SP signed note (v2 checkpoints); NULL for v1 rows (body + separate signature).
    note: Mapped[str | None] = mapped_column(Text)


class CheckpointCosignature(Base):
    """A witness's cosignature line (c2sp.org/tlog-cosignature) over a stored checkpoint's body.

    Append-only (migration 0007); one per (checkpoint, witness key ID)."""

    __tablename__ = "checkpoint_cosignatures"
    __table_args__ = (UniqueConstraint("checkpoint_id", "key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoints.id"))
    witness_name: Mapped[str] = mapped_column(String(255))
    key_id: Mapped[str] = mapped_column(String(8))  # hex of the 4-byte note key ID
    line: Mapped[str] = mapped_column(Text)  # "— <name> <base64>", as the witness signed it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One signed event to POST to a job's callback URL; retried with backoff until delivered or
    `attempts` runs out. (job_id, event_type) is unique: an event is queued once, by any server."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("job_id", "event_type"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # the webhook-id
    job_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(32))  # job.held | job.rejected | job.succeeded | ...
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class WebhookCursor(Base):
    """The single row (id=1): the last ledger seq turned into webhook deliveries."""

    __tablename__ = "webhook_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="singleton"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
