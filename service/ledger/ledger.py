"""The audit ledger: an append-only, RFC 6962 Merkle-tree log of events in the database.

One order, never a fork: every append locks the single `ledger_head` row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite the engine opens every transaction with BEGIN IMMEDIATE, which takes the
database's one write lock), reads the next sequence number and the tree's frontier from it, and
writes the event, the interior nodes it completes and the new head in the same transaction. Appends
from threads or processes therefore queue on that lock, and a caller's `session=` makes the event
commit (or roll back) together with the action it records.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from veriframe.service.db.engine import reading, unavailable_as_error
from veriframe.service.db.models import AuditEvent, Checkpoint, Job, LedgerHead, MerkleNode, PromptText
from veriframe.service.ledger import checkpoint as cp
from veriframe.service.ledger import events as ev
from veriframe.service.ledger import merkle
from veriframe.service.ledger.canonical import (
    EVENT_TYPE_PATTERN,
    canonical_json,
    event_document,
    normalise_payload,
)

__all__ = ["ConsistencyProof", "EventInput", "InclusionProof", "Ledger", "LedgerError", "TreeHead"]


# service.jobs' terminal states (not imported: service.jobs depends on this package).
FINAL_JOB_STATES = ("succeeded", "failed", "rejected", "cancelled")


class LedgerError(RuntimeError):
    """The ledger cannot do what was asked (no schema, no signing key, a size it does not have...)."""


@dataclass(frozen=True)
class EventInput:
    """One event for `Ledger.append_many`."""

    event_type: str
    payload: dict[str, Any]
    actor: str
    tenant: str | None
    job_id: str | None = None


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: str  # hex


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: str  # hex
    path: list[str]  # hex, leaf level first (RFC 9162 inclusion_path)
    root_hash: str  # hex

    def verify(self) -> bool:
        return merkle.verify_inclusion(self.seq, self.tree_size, bytes.fromhex(self.leaf_hash),
                                       [bytes.fromhex(h) for h in self.path], bytes.fromhex(self.root_hash))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConsistencyProof:
    first_size: int
    second_size: int
    first_root: str  # hex
    second_root: str  # hex
    path: list[str] = field(default_factory=list)  # hex (RFC 9162 consistency_path)

    def verify(self) -> bool:
        return merkle.verify_consistency(
            self.first_size, self.second_size, bytes.fromhex(self.first_root),
            bytes.fromhex(self.second_root), [bytes.fromhex(h) for h in self.path])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Ledger:
    """The audit ledger over a database made by `veriframe.service.db.upgrade`.

    `signing_key`: the ES256 (P-256) private key for checkpoints: a key object, PEM bytes or a path
    (e.g. `ledger-key.pem` from `veriframe keys init`). Only `checkpoint()` needs it.
    """

    def __init__(self, session_factory: sessionmaker[Session],
                 signing_key: ec.EllipticCurvePrivateKey | str | Path | bytes | None = None) -> None:
        self._sessions = session_factory
        self._signing_key = None if signing_key is None else cp.load_private_key(signing_key)
        # Threads of one process queue here first, so they do not all hold connections while waiting
        # for the database lock (which is what orders appends from different processes).
        self._local_lock = threading.Lock()

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey | None:
        return None if self._signing_key is None else self._signing_key.public_key()

    # --- writing -------------------------------------------------------------------------------

    def append(self, event_type: str, payload: dict[str, Any], *, actor: str, tenant: str | None,
               job_id: str | None = None, session: Session | None = None) -> AuditEvent:
        """Record one event and return its row (with `seq` and `leaf_hash`).

        With `session`, the event joins the caller's transaction and is only durable when the caller
        commits; if anything fails, both roll back. Without, it commits on its own.
        Raises `DatabaseUnavailable` when the database cannot be reached.
        """
        item = EventInput(event_type, payload, actor, tenant, job_id)
        return self._write([item], session, as_objects=True)[0]

    def append_many(self, items: Sequence[EventInput], *, session: Session | None = None) -> list[int]:
        """Record several events under one lock and one transaction; returns their seqs."""
        rows = self._write(list(items), session, as_objects=False)
        return [row["seq"] for row in rows]

    def _write(self, items: list[EventInput], session: Session | None, *, as_objects: bool) -> list[Any]:
        prepared = [self._prepare(item) for item in items]
        with unavailable_as_error("the audit ledger database"):
            if session is not None:
                return self._write_in(session, prepared, as_objects)
            with self._local_lock, self._sessions.begin() as own:
                return self._write_in(own, prepared, as_objects)

    @staticmethod
    def _prepare(item: EventInput) -> EventInput:
        if not EVENT_TYPE_PATTERN.match(item.event_type or ""):
            raise ValueError(f"invalid ledger event type {item.event_type!r}: use a lower-case dotted name")
        if not item.actor:
            raise ValueError("a ledger event needs an actor (who did it)")
        payload = normalise_payload(item.payload)
        return EventInput(item.event_type, payload, item.actor, item.tenant, item.job_id)

    def _write_in(self, session: Session, items: list[EventInput], as_objects: bool) -> list[Any]:
        head = self._lock_head(session)
        size = head.tree_size
        frontier = [bytes.fromhex(h) for h in head.frontier]
        now = _utcnow()
        rows: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for item in items:
            document = event_document(seq=size, event_type=item.event_type, time=now, actor=item.actor,
                                      tenant=item.tenant, job_id=item.job_id, payload=item.payload)
            leaf = merkle.leaf_hash(canonical_json(document))
            frontier, completed = merkle.frontier_append(frontier, size, leaf)
            rows.append({"seq": size, "event_type": item.event_type, "time": now, "actor": item.actor,
                         "tenant": item.tenant, "job_id": item.job_id, "payload": item.payload,
                         "leaf_hash": leaf.hex()})
            nodes.extend({"level": lv, "idx": ix, "hash": h.hex()} for lv, ix, h in completed)
            size += 1
        result: list[Any]
        if as_objects:
            result = [AuditEvent(**row) for row in rows]
            session.add_all(result)
        else:
            session.execute(insert(AuditEvent), rows)
            result = rows
        if nodes:
            session.execute(insert(MerkleNode), nodes)
        head.tree_size = size
        head.frontier = [h.hex() for h in frontier]
        head.root_hash = merkle.frontier_root(frontier).hex()
        head.updated_at = now
        session.flush()
        return result

    @staticmethod
    def _lock_head(session: Session) -> LedgerHead:
        head = session.scalars(
            select(LedgerHead).where(LedgerHead.id == 1).with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if head is None:
            raise LedgerError("the ledger has no head row: run `veriframe db upgrade` on this database")
        return head

    def checkpoint(self, *, session: Session | None = None) -> Checkpoint:
        """Sign the current tree head (size, root, time) and store it; returns the checkpoint row.

        If the newest checkpoint already covers the current tree, it is returned unchanged.
        """
        if self._signing_key is None:
            raise LedgerError("no ledger signing key: pass signing_key= (e.g. ledger-key.pem)")
        with unavailable_as_error("the audit ledger database"):
            if session is not None:
                return self._checkpoint_in(session)
            with self._sessions.begin() as own:
                return self._checkpoint_in(own)

    def _checkpoint_in(self, session: Session) -> Checkpoint:
        assert self._signing_key is not None
        head = session.get(LedgerHead, 1)
        if head is None:
            raise LedgerError("the ledger has no head row: run `veriframe db upgrade` on this database")
        latest = session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()
        kid = cp.key_id(self._signing_key.public_key())
        if latest is not None and (latest.tree_size, latest.root_hash, latest.key_id) == (
                head.tree_size, head.root_hash, kid):
            return latest
        now = _utcnow()
        body = cp.CheckpointBody.build(head.tree_size, bytes.fromhex(head.root_hash), now)
        row = Checkpoint(tree_size=head.tree_size, root_hash=head.root_hash, timestamp=now, key_id=kid,
                         body=body.encode().decode(), signature=cp.sign(body, self._signing_key))
        session.add(row)
        session.flush()
        return row

    def purge_prompts(self, now: datetime | None = None, *, actor: str = "system:retention") -> list[str]:
        """Delete prompt texts whose `purge_after` has passed and record a `retention.purged` event.

        Only prompts of jobs in a final state are purged: a queued or held job still needs its prompt to
        run (it is purged at the first pass after it ends). Deletion and its record commit together.
        Returns the purged job ids (nothing recorded if none).
        """
        now = now or _utcnow()
        with unavailable_as_error("the audit ledger database"), self._local_lock, self._sessions.begin() as s:
            # Lock the head first: on PostgreSQL this also orders concurrent purges.
            self._lock_head(s)
            job_ids = list(s.scalars(
                select(PromptText.job_id)
                .join(Job, Job.id == PromptText.job_id)
                .where(PromptText.purge_after <= now, Job.state.in_(FINAL_JOB_STATES))
            ))
            if not job_ids:
                return []
            s.execute(delete(PromptText).where(PromptText.job_id.in_(job_ids)))
            self._write_in(s, [self._prepare(EventInput(
                ev.RETENTION_PURGED, ev.retention_purged(job_ids=job_ids, before=now), actor, None))], True)
            return sorted(job_ids)

    # --- reading and proving -------------------------------------------------------------------

    def head(self) -> TreeHead:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            head = s.get(LedgerHead, 1)
            if head is None:
                raise LedgerError("the ledger has no head row: run `veriframe db upgrade` on this database")
            return TreeHead(head.tree_size, head.root_hash)

    def event(self, seq: int) -> AuditEvent | None:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            return s.get(AuditEvent, seq)

    def latest_checkpoint(self) -> Checkpoint | None:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            return s.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """Proof that event `seq` is in the tree of `tree_size` leaves (default: the current tree)."""
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            size = self._size(s, tree_size)
            if not 0 <= seq < size:
                raise LedgerError(f"event {seq} is not in a tree of size {size}")
            nodes = _StoredNodes(s)
            path = nodes.run(lambda get: merkle.inclusion_path(seq, size, get))
            root = nodes.run(lambda get: merkle.tree_root(size, get))
            leaf = nodes.run(lambda get: get(0, seq))
            return InclusionProof(seq, size, leaf.hex(), [h.hex() for h in path], root.hex())

    def consistency_proof(self, first_size: int, second_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of `second_size` leaves (default: current) extends the one of `first_size`."""
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            second = self._size(s, second_size)
            if not 0 <= first_size <= second:
                raise LedgerError(f"no consistency proof from size {first_size} to size {second}")
            nodes = _StoredNodes(s)
            path = nodes.run(lambda get: merkle.consistency_proof(first_size, second, get))
            first_root = nodes.run(lambda get: merkle.tree_root(first_size, get))
            second_root = nodes.run(lambda get: merkle.tree_root(second, get))
            return ConsistencyProof(first_size, second, first_root.hex(), second_root.hex(),
                                    [h.hex() for h in path])

    @staticmethod
    def _size(session: Session, tree_size: int | None) -> int:
        head = session.get(LedgerHead, 1)
        if head is None:
            raise LedgerError("the ledger has no head row: run `veriframe db upgrade` on this database")
        if tree_size is None:
            return head.tree_size
        if not 0 <= tree_size <= head.tree_size:
            raise LedgerError(f"the ledger has {head.tree_size} events, not {tree_size}")
        return tree_size

    def verify(self, public_key: ec.EllipticCurvePublicKey | str | Path | bytes | None = None) -> Any:
        """Recompute every leaf, the tree and every checkpoint: see `veriframe.service.ledger.verify`."""
        from veriframe.service.ledger.verify import verify_ledger

        key = self.public_key if public_key is None else cp.load_public_key(public_key)
        return verify_ledger(self._sessions, key)

    def count(self) -> int:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            return s.scalar(select(func.count()).select_from(AuditEvent)) or 0


class _StoredNodes:
    """Answers `merkle` NodeGetters from the database: leaves from audit_events, the rest from merkle_nodes.

    `run` does a dry run to learn which nodes a computation reads, fetches them in one query per
    table, then runs it for real: O(log n) rows for a proof, whatever the size of the log.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cache: dict[tuple[int, int], bytes] = {}

    def run(self, compute: Any) -> Any:
        wanted = merkle.nodes_needed(compute) - self._cache.keys()
        self._fetch(wanted)
        return compute(self._get)

    def _get(self, level: int, index: int) -> bytes:
        try:
            return self._cache[(level, index)]
        except KeyError:
            raise LedgerError(f"the ledger is missing tree node (level {level}, index {index}): "
                              "run `veriframe-admin audit verify`") from None

    def _fetch(self, wanted: Iterable[tuple[int, int]]) -> None:
        wanted = list(wanted)
        leaves = [index for level, index in wanted if level == 0]
        interior = [(level, index) for level, index in wanted if level > 0]
        if leaves:
            for seq, h in self._session.execute(
                    select(AuditEvent.seq, AuditEvent.leaf_hash).where(AuditEvent.seq.in_(leaves))):
                self._cache[(0, seq)] = bytes.fromhex(h)
        if interior:
            # One `level = ? AND idx IN (...)` term per level: both backends use the primary key for
            # it, where SQLite scans the table for a row-value `(level, idx) IN (...)`.
            by_level: dict[int, list[int]] = defaultdict(list)
            for level, index in interior:
                by_level[level].append(index)
            condition = or_(*(and_(MerkleNode.level == level, MerkleNode.idx.in_(indexes))
                              for level, indexes in by_level.items()))
            for level, index, h in self._session.execute(
                    select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(condition)):
                self._cache[(level, index)] = bytes.fromhex(h)
