"""`audit verify`: recompute the ledger from its rows and say precisely what, if anything, was changed.

What is checked, and what each finding means:
- every event's leaf hash is recomputed from its columns. A mismatch is an *edited* event, unless
  the content hashes correctly at another position: then the row was *reordered* (renumbered),
  e.g. swapped with another, or shifted to close the gap of a deleted event / open one for an
  inserted event;
- sequence numbers the committed tree has (head, checkpoints) that no row holds: *deleted* events;
  a row that no committed position explains: an *inserted* event;
- the interior tree nodes and the head's frontier stored at append time are recomputed from the
  rows' leaf hashes: a mismatch localises an event rewritten *together with* its leaf hash;
- every checkpoint: its ES256 signature (with the public key) and its root against the tree
  recomputed from the events. This is the check an attacker with full database access cannot get
  around: they cannot sign a new root.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from veriframe.service.db.engine import reading, unavailable_as_error
from veriframe.service.db.models import AuditEvent, Checkpoint, LedgerHead, MerkleNode
from veriframe.service.ledger import checkpoint as cp
from veriframe.service.ledger import merkle
from veriframe.service.ledger.canonical import event_bytes

MAX_CANDIDATES = 200  # positions tried per mismatching row when looking for where it came from


@dataclass
class Finding:
    kind: str  # edited | deleted | inserted | reordered | checkpoint | head | tree
    seq: int | None
    detail: str
    last_seq: int | None = None  # for a run of events

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = (
            ""
            if self.seq is None
            else (
                f" seq {self.seq}"
                if self.last_seq in (None, self.seq)
                else f" seq {self.seq}..{self.last_seq}"
            )
        )
        return f"{self.kind.upper()}{where}: {self.detail}"


@dataclass
class VerifyReport:
    tree_size: int
    root_hash: str
    events: int
    checkpoints: int
    signatures_checked: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "signatures_checked": self.signatures_checked,
            "findings": [f.to_dict() for f in self.findings],
        }


def _runs(values: list[int]) -> list[tuple[int, int]]:
    """[1,2,3,7] -> [(1,3),(7,7)]."""
    runs: list[tuple[int, int]] = []
    for v in sorted(values):
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _hex_bytes(value: str) -> bytes | None:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        return None
    return raw if len(raw) == merkle.HASH_SIZE else None


def verify_ledger(
    sessions: sessionmaker[Session], public_key: ec.EllipticCurvePublicKey | None
) -> VerifyReport:
    with unavailable_as_error("the audit ledger database"), sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            reading(session)  # a WAL snapshot: appends go on while we read
        else:
            # One snapshot for head, events, nodes and checkpoints, while appends go on.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        if not inspect(session.connection()).has_table("ledger_head"):
            from veriframe.service.ledger.ledger import LedgerError

            raise LedgerError("this database has no ledger tables: run `veriframe db upgrade --database URL`")
        head = session.get(LedgerHead, 1)
        rows = list(
            session.execute(
                select(
                    AuditEvent.seq,
                    AuditEvent.event_type,
                    AuditEvent.time,
                    AuditEvent.actor,
                    AuditEvent.tenant,
                    AuditEvent.job_id,
                    AuditEvent.payload,
                    AuditEvent.leaf_hash,
                ).order_by(AuditEvent.seq)
            )
        )
        nodes = list(session.execute(select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash)))
        checkpoints = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
        unguarded = _unguarded_tables(session)
    report = _Verifier(head, rows, nodes, checkpoints, public_key).run()
    if unguarded:
        report.findings.append(Finding("schema", None, "append-only triggers missing or disabled on "
                                       + ", ".join(unguarded) + ": the database no longer refuses edits"))
    return report


APPEND_ONLY_TABLES = ("audit_events", "merkle_nodes", "checkpoints")


def _unguarded_tables(session: Session) -> list[str]:
    """Ledger tables whose append-only triggers (migration 0002) are gone or disabled."""
    if session.get_bind().dialect.name == "sqlite":
        names = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        expected = {t: {f"{t}_no_update", f"{t}_no_delete"} for t in APPEND_ONLY_TABLES}
    else:
        # tgenabled 'D' = disabled (ALTER TABLE ... DISABLE TRIGGER); to_regclass follows the search_path.
        names = set(session.scalars(text(
            "SELECT t.tgname FROM pg_trigger t WHERE t.tgenabled <> 'D' AND NOT t.tgisinternal "
            "AND t.tgrelid IN (to_regclass('audit_events'), to_regclass('merkle_nodes'), "
            "to_regclass('checkpoints'))")))
        expected = {t: {f"{t}_append_only", f"{t}_no_truncate"} for t in APPEND_ONLY_TABLES}
    return [table for table, wanted in expected.items() if not wanted <= names]


class _Verifier:
    def __init__(
        self,
        head: LedgerHead | None,
        rows: list[Any],
        nodes: list[Any],
        checkpoints: list[Checkpoint],
        public_key: ec.EllipticCurvePublicKey | None,
    ) -> None:
        self.head_size = head.tree_size if head else 0
        self.head_root = head.root_hash if head else ""
        self.head_frontier = list(head.frontier) if head else []
        self.rows = rows
        self.nodes = nodes
        self.checkpoints = checkpoints
        self.public_key = public_key
        self.findings: list[Finding] = []
        self.explained: set[int] = set()  # seqs some event-level finding already covers
        if head is None:
            self.findings.append(Finding("head", None, "the ledger head row is missing"))

    def run(self) -> VerifyReport:
        recomputed = self._events()
        self._stored_tree()
        self._checkpoints(recomputed)
        return VerifyReport(
            self.head_size,
            self.head_root,
            len(self.rows),
            len(self.checkpoints),
            self.public_key is not None,
            self.findings,
        )

    # --- events ---------------------------------------------------------------------------------

    def _events(self) -> list[bytes]:
        """Event-level findings; returns the leaf hashes recomputed from the rows, in stored order."""
        recomputed: list[bytes] = []
        bad: list[Any] = []
        for row in self.rows:
            leaf = merkle.leaf_hash(event_bytes(row))
            recomputed.append(leaf)
            if _hex_bytes(row.leaf_hash) != leaf:
                bad.append(row)
        present = {row.seq for row in self.rows}
        committed = max([self.head_size, *(c.tree_size for c in self.checkpoints)])
        gaps = [s for s in range(committed) if s not in present][:MAX_CANDIDATES]
        bad_seqs = [row.seq for row in bad] if len(bad) <= MAX_CANDIDATES else []

        origin: dict[int, int] = {row.seq: row.seq for row in self.rows}  # current seq -> original seq
        moved: set[int] = set()
        edited: set[int] = set()
        for row in bad:
            stored = _hex_bytes(row.leaf_hash)
            candidates = dict.fromkeys([row.seq - 1, row.seq + 1, *gaps, *bad_seqs])
            for c in candidates:
                if c >= 0 and c != row.seq and stored == merkle.leaf_hash(event_bytes(row, seq=c)):
                    origin[row.seq] = c
                    moved.add(row.seq)
                    break
            else:
                edited.add(row.seq)

        claims: dict[int, list[int]] = defaultdict(list)
        for current, original in origin.items():
            claims[original].append(current)
        inserted: set[int] = set()
        for current, original in origin.items():
            if current not in moved and len(claims[original]) > 1:
                inserted.add(current)  # a moved row proves the original event of this seq is elsewhere
            elif original >= self.head_size and current not in moved:
                inserted.add(current)
        edited -= inserted
        deleted = [s for s in range(committed) if s not in claims]

        for first, last in _runs(sorted(edited)):
            self._event_finding("edited", first, last, "the event's content no longer matches its leaf hash")
        for first, last in _runs(deleted):
            self._event_finding(
                "deleted",
                first,
                last,
                f"the ledger committed to {committed} events and no row holds "
                + ("this one" if first == last else "these"),
            )
        for first, last in _runs(sorted(inserted)):
            self._event_finding(
                "inserted",
                first,
                last,
                "not an event the ledger appended (beyond its head, or in place of "
                "an event that now sits elsewhere)",
            )
        # Moved rows, grouped into runs that moved by the same offset.
        runs: list[list[int]] = []
        for current in sorted(moved):
            offset = origin[current] - current
            if runs and current == runs[-1][1] + 1 and offset == runs[-1][2]:
                runs[-1][1] = current
            else:
                runs.append([current, current, offset])
        for first, last, offset in runs:
            was = f"{first + offset}" if first == last else f"{first + offset}..{last + offset}"
            self._event_finding("reordered", first, last, f"appended as seq {was}, renumbered since")
        self.findings.sort(key=lambda f: (f.seq if f.seq is not None else -1, f.kind))
        return recomputed

    def _event_finding(self, kind: str, first: int, last: int, detail: str) -> None:
        self.findings.append(Finding(kind, first, detail, last))
        self.explained.update(range(first, last + 1))

    # --- interior nodes and the head's frontier, against the rows' own leaf hashes ---------------

    def _stored_tree(self) -> None:
        if any(row.seq != i for i, row in enumerate(self.rows)):
            return  # positions no longer line up: the event findings above already say why
        levels: list[list[bytes]] = [[_hex_bytes(r.leaf_hash) or bytes(merkle.HASH_SIZE) for r in self.rows]]
        while len(levels[-1]) > 1:
            below = levels[-1]
            levels.append([merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

        suspect: list[tuple[int, int]] = []  # leaf ranges whose stored node disagrees
        stored = set()
        for level, idx, value in self.nodes:
            stored.add((level, idx))
            lo, hi = idx << level, (idx + 1) << level
            if level >= len(levels) or idx >= len(levels[level]) or _hex_bytes(value) != levels[level][idx]:
                suspect.append((lo, hi))
        missing = [
            (level, idx)
            for level in range(1, len(levels))
            for idx in range(len(levels[level]))
            if ((idx + 1) << level) <= self.head_size and (level, idx) not in stored
        ]
        if missing:
            self.findings.append(
                Finding(
                    "tree",
                    None,
                    f"{len(missing)} stored tree node(s) are missing, "
                    f"e.g. level {missing[0][0]} index {missing[0][1]}",
                )
            )
        # The frontier holds the right edge, including a last leaf no interior node covers yet.
        positions = merkle.frontier_nodes(self.head_size)
        if len(self.head_frontier) != len(positions):
            self.findings.append(Finding("head", None, "the head's frontier does not fit its tree size"))
        else:
            for (level, idx), value in zip(positions, self.head_frontier, strict=True):
                if (
                    level < len(levels)
                    and idx < len(levels[level])
                    and _hex_bytes(value) != levels[level][idx]
                ):
                    suspect.append((idx << level, (idx + 1) << level))
        # Report the smallest disagreeing ranges that no event-level finding explains.
        suspect.sort(key=lambda r: r[1] - r[0])
        reported: list[tuple[int, int]] = []
        for lo, hi in suspect:
            if any(a >= lo and b <= hi for a, b in reported):
                continue
            reported.append((lo, hi))
            # The whole range the node covers: a node that disagrees because events at its end were
            # deleted is explained by those deletions, not by an edit of the events still there.
            if any(s in self.explained for s in range(lo, hi)):
                continue
            if hi > len(self.rows):
                # A node stored over events the table no longer holds, that no committed size
                # (head, checkpoint) explains: the tail was deleted and the head rewound.
                self._event_finding(
                    "deleted",
                    max(lo, len(self.rows)),
                    hi - 1,
                    "a tree node stored when it was appended covers it, and no row holds it",
                )
                continue
            last = hi - 1
            self._event_finding(
                "edited",
                lo,
                last,
                "rewritten together with its leaf hash: no longer matches the tree "
                "node stored when it was appended",
            )
        self.findings.sort(key=lambda f: (f.seq if f.seq is not None else -1, f.kind))

    # --- signed checkpoints and the head, against the tree recomputed from the content ----------

    def _checkpoints(self, recomputed: list[bytes]) -> None:
        tree = merkle.ListTree(recomputed)
        if self.head_size <= len(recomputed):
            if tree.root(self.head_size).hex() != self.head_root:
                self.findings.append(
                    Finding(
                        "head", None, f"the head's root for {self.head_size} events does not match the events"
                    )
                )
        else:
            self.findings.append(
                Finding(
                    "head",
                    None,
                    f"the head counts {self.head_size} events, the table holds {len(recomputed)}",
                )
            )
        key_id = cp.key_id(self.public_key) if self.public_key is not None else None
        previous_id, previous_size = 0, 0
        for c in self.checkpoints:
            label = f"checkpoint #{c.id} (size {c.tree_size})"
            if c.id != previous_id + 1:
                ids = f"#{previous_id + 1}" + ("" if c.id == previous_id + 2 else f"..#{c.id - 1}")
                self.findings.append(Finding("checkpoint", None, f"checkpoint {ids} deleted"))
            if c.tree_size < previous_size:
                self.findings.append(
                    Finding("checkpoint", None, f"{label} is smaller than the one before")
                )
            previous_id, previous_size = c.id, max(previous_size, c.tree_size)
            try:
                body = cp.CheckpointBody.parse(c.body)
            except cp.CheckpointError as error:
                self.findings.append(Finding("checkpoint", None, f"{label}: {error}"))
                continue
            if (body.tree_size, body.root_hash.hex()) != (c.tree_size, c.root_hash):
                self.findings.append(
                    Finding("checkpoint", None, f"{label}: the row's size/root differ from the signed body")
                )
            if self.public_key is not None:
                if c.key_id != key_id:
                    self.findings.append(
                        Finding("checkpoint", None, f"{label}: signed by another key ({c.key_id[:16]}...)")
                    )
                elif not cp.verify_signature(c.body, c.signature, self.public_key):
                    self.findings.append(Finding("checkpoint", None, f"{label}: the signature is not valid"))
            if body.tree_size > len(recomputed):
                self.findings.append(
                    Finding(
                        "checkpoint",
                        None,
                        f"{label}: signed {body.tree_size} events, the table holds {len(recomputed)}",
                    )
                )
            elif tree.root(body.tree_size) != body.root_hash:
                self.findings.append(
                    Finding(
                        "checkpoint",
                        None,
                        f"{label}, signed {body.timestamp}: the events it covers no "
                        "longer hash to its root: changed after it was signed",
                    )
                )
