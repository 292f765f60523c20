"""The log: an append-only, RFC 6962 Merkle-tree log of events in the database, and its proofs.

One order, never a fork: every append locks the single `ledger_head` row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite the engine opens every transaction with BEGIN IMMEDIATE, which takes the
database's one write lock), reads the next sequence number and the tree's frontier from it, and
writes the event, the interior nodes it completes, the new head and (with a signer) the head's
signed checkpoint in the same transaction. Appends from threads or processes therefore queue on that
lock, and a caller's `session=` makes the event commit (or roll back) together with the action it
records.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.leaf import CURRENT_LEAF_VERSION, event_document, leaf_data
from veriframe.service.db.engine import reading, unavailable_as_error
from veriframe.service.db.models import AuditEvent, LedgerHead, MerkleNode
from veriframe.service.ledger.canonical import EVENT_TYPE_PATTERN, normalise_payload
from veriframe.service.ledger.errors import NO_HEAD, LedgerError
from veriframe.service.ledger.signer import Signer

__all__ = [
    "ConsistencyProof",
    "EventInput",
    "InclusionProof",
    "Log",
    "StoredNodes",
    "TreeHead",
    "lock_head",
    "prepare",
]


@dataclass(frozen=True)
class EventInput:
    """One event for `append_many`."""

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
        return merkle.verify_inclusion(
            self.seq,
            self.tree_size,
            bytes.fromhex(self.leaf_hash),
            [bytes.fromhex(h) for h in self.path],
            bytes.fromhex(self.root_hash),
        )

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
            self.first_size,
            self.second_size,
            bytes.fromhex(self.first_root),
            bytes.fromhex(self.second_root),
            [bytes.fromhex(h) for h in self.path],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def lock_head(session: Session) -> LedgerHead:
    head = session.scalars(
        select(LedgerHead)
        .where(LedgerHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if head is None:
        raise LedgerError(NO_HEAD)
    return head


def prepare(item: EventInput) -> EventInput:
    """Check an event before it takes the lock: type, actor, a payload JSON and RFC 8785 can hold."""
    if not EVENT_TYPE_PATTERN.match(item.event_type or ""):
        raise ValueError(f"invalid ledger event type {item.event_type!r}: use a lower-case dotted name")
    if not item.actor:
        raise ValueError("a ledger event needs an actor (who did it)")
    payload = normalise_payload(item.payload)
    return EventInput(item.event_type, payload, item.actor, item.tenant, item.job_id)


class Log:
    """Append and prove. `signer` (optional) signs the head in every append's transaction."""

    def __init__(self, session_factory: sessionmaker[Session], signer: Signer | None = None) -> None:
        self._sessions = session_factory
        self.signer = signer
        # Threads of one process queue here first, so they do not all hold connections while waiting
        # for the database lock (which is what orders appends from different processes).
        self.local_lock = threading.Lock()

    # --- writing -------------------------------------------------------------------------------

    def write(self, items: list[EventInput], session: Session | None, *, as_objects: bool) -> list[Any]:
        prepared = [prepare(item) for item in items]
        with unavailable_as_error("the audit ledger database"):
            if session is not None:
                return self.write_in(session, prepared, as_objects)
            with self.local_lock, self._sessions.begin() as own:
                return self.write_in(own, prepared, as_objects)

    def write_in(self, session: Session, items: list[EventInput], as_objects: bool) -> list[Any]:
        """Append prepared events in `session`'s transaction (which must be able to write)."""
        head = lock_head(session)
        size = head.tree_size
        frontier = [bytes.fromhex(h) for h in head.frontier]
        now = _utcnow()
        rows: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        for item in items:
            document = event_document(
                seq=size,
                event_type=item.event_type,
                time=now,
                actor=item.actor,
                tenant=item.tenant,
                job_id=item.job_id,
                payload=item.payload,
            )
            leaf = merkle.leaf_hash(leaf_data(document, CURRENT_LEAF_VERSION))
            frontier, completed = merkle.frontier_append(frontier, size, leaf)
            rows.append(
                {
                    "seq": size,
                    "event_type": item.event_type,
                    "time": now,
                    "actor": item.actor,
                    "tenant": item.tenant,
                    "job_id": item.job_id,
                    "payload": item.payload,
                    "leaf_hash": leaf.hex(),
                    "leaf_version": CURRENT_LEAF_VERSION,
                }
            )
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
        if self.signer is not None:
            self.signer.sign_head(head)
        session.flush()
        return result

    # --- reading and proving -------------------------------------------------------------------

    def head_row(self) -> LedgerHead:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            head = s.get(LedgerHead, 1)
            if head is None:
                raise LedgerError(NO_HEAD)
            return head

    def head(self) -> TreeHead:
        head = self.head_row()
        return TreeHead(head.tree_size, head.root_hash)

    def event(self, seq: int) -> AuditEvent | None:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            return s.get(AuditEvent, seq)

    def count(self) -> int:
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            return s.scalar(select(func.count()).select_from(AuditEvent)) or 0

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """Proof that event `seq` is in the tree of `tree_size` leaves (default: the current tree)."""
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            size = _size(s, tree_size)
            if not 0 <= seq < size:
                raise LedgerError(f"event {seq} is not in a tree of size {size}")
            nodes = StoredNodes(s)
            path = nodes.run(lambda get: merkle.inclusion_path(seq, size, get))
            root = nodes.run(lambda get: merkle.tree_root(size, get))
            leaf = nodes.run(lambda get: get(0, seq))
            return InclusionProof(seq, size, leaf.hex(), [h.hex() for h in path], root.hex())

    def consistency_proof(self, first_size: int, second_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of `second_size` leaves (default: current) extends the one of `first_size`."""
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            second = _size(s, second_size)
            if not 0 <= first_size <= second:
                raise LedgerError(f"no consistency proof from size {first_size} to size {second}")
            nodes = StoredNodes(s)
            path = nodes.run(lambda get: merkle.consistency_proof(first_size, second, get))
            first_root = nodes.run(lambda get: merkle.tree_root(first_size, get))
            second_root = nodes.run(lambda get: merkle.tree_root(second, get))
            return ConsistencyProof(
                first_size, second, first_root.hex(), second_root.hex(), [h.hex() for h in path]
            )


def _size(session: Session, tree_size: int | None) -> int:
    head = session.get(LedgerHead, 1)
    if head is None:
        raise LedgerError(NO_HEAD)
    if tree_size is None:
        return head.tree_size
    if not 0 <= tree_size <= head.tree_size:
        raise LedgerError(f"the ledger has {head.tree_size} events, not {tree_size}")
    return tree_size


class StoredNodes:
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
            raise LedgerError(
                f"the ledger is missing tree node (level {level}, index {index}): "
                "run `veriframe-admin audit verify`"
            ) from None

    def _fetch(self, wanted: Iterable[tuple[int, int]]) -> None:
        wanted = list(wanted)
        leaves = [index for level, index in wanted if level == 0]
        interior = [(level, index) for level, index in wanted if level > 0]
        if leaves:
            for seq, h in self._session.execute(
                select(AuditEvent.seq, AuditEvent.leaf_hash).where(AuditEvent.seq.in_(leaves))
            ):
                self._cache[(0, seq)] = bytes.fromhex(h)
        if interior:
            # One `level = ? AND idx IN (...)` term per level: both backends use the primary key for
            # it, where SQLite scans the table for a row-value `(level, idx) IN (...)`.
            by_level: dict[int, list[int]] = defaultdict(list)
            for level, index in interior:
                by_level[level].append(index)
            condition = or_(
                *(
                    and_(MerkleNode.level == level, MerkleNode.idx.in_(indexes))
                    for level, indexes in by_level.items()
                )
            )
            for level, index, h in self._session.execute(
                select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(condition)
            ):
                self._cache[(level, index)] = bytes.fromhex(h)
