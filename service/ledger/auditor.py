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
- every checkpoint (the stored ones and the head's, signed with every append): its signature
  (with the public key) and its root against the tree recomputed from the events. An attacker with
  full database access cannot sign a new root. Events no valid signed checkpoint covers are reported
  as `unsigned`, never as intact;
- each trusted checkpoint kept outside the database: the log must be at least that large and its
  first N events must hash to that root; otherwise `rollback` (smaller) or `fork` (rewritten). Only
  this catches an old, internally consistent snapshot restored over the database.

`verify_since` is the incremental audit: from one trusted checkpoint, only what came after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import and_, inspect, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.checkpoint import Checkpoint as CheckpointBody
from veriframe.provenance.transparency.checkpoint import (
    CheckpointError,
    LegacyCheckpoint,
    log_verifier,
    open_checkpoint,
)
from veriframe.provenance.transparency.monitor import describe
from veriframe.provenance.transparency.note import parse_note, spki_sha256
from veriframe.service.db.engine import reading, unavailable_as_error
from veriframe.service.db.models import AuditEvent, Checkpoint, LedgerHead, MerkleNode
from veriframe.service.ledger.canonical import event_bytes
from veriframe.service.ledger.errors import LedgerError
from veriframe.service.ledger.log import StoredNodes

MAX_CANDIDATES = 200  # positions tried per mismatching row when looking for where it came from


@dataclass
class Finding:
    kind: (
        str  # edited | deleted | inserted | reordered | checkpoint | head | tree | unsigned | rollback | fork
    )
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
    signed_size: int = 0  # events covered by a valid signed checkpoint
    from_size: int = 0  # an incremental audit checked events from here on
    trusted_checked: int = 0  # trusted checkpoints the log was checked against

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
            "signed_size": self.signed_size,
            "from_size": self.from_size,
            "trusted_checked": self.trusted_checked,
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


# What a leaf is rebuilt from (`canonical.event_bytes`), and the stored leaf hash.
EVENT_COLUMNS = (
    AuditEvent.seq,
    AuditEvent.event_type,
    AuditEvent.time,
    AuditEvent.actor,
    AuditEvent.tenant,
    AuditEvent.job_id,
    AuditEvent.payload,
    AuditEvent.leaf_hash,
    AuditEvent.leaf_version,
)


def snapshot(session: Session) -> None:
    """One consistent view of head, events, nodes and checkpoints while appends go on."""
    if session.get_bind().dialect.name == "sqlite":
        reading(session)  # a WAL snapshot
    else:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    if not inspect(session.connection()).has_table("ledger_head"):
        raise LedgerError("this database has no ledger tables: run `veriframe db upgrade --database URL`")


def verify_ledger(
    sessions: sessionmaker[Session],
    public_key: ec.EllipticCurvePublicKey | None,
    trusted: Sequence[CheckpointBody] = (),
) -> VerifyReport:
    """The full audit: every event, node and checkpoint, and the log against each trusted checkpoint."""
    with unavailable_as_error("the audit ledger database"), sessions() as session:
        snapshot(session)
        head = session.get(LedgerHead, 1)
        rows = list(session.execute(select(*EVENT_COLUMNS).order_by(AuditEvent.seq)))
        nodes = list(session.execute(select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash)))
        checkpoints = list(session.scalars(select(Checkpoint).order_by(Checkpoint.id)))
        unguarded = _unguarded_tables(session)
    report = _Verifier(head, rows, nodes, checkpoints, public_key, trusted).run()
    if unguarded:
        report.findings.append(
            Finding(
                "schema",
                None,
                "append-only triggers missing or disabled on "
                + ", ".join(unguarded)
                + ": the database no longer refuses edits",
            )
        )
    return report


APPEND_ONLY_TABLES = ("audit_events", "merkle_nodes", "checkpoints", "checkpoint_cosignatures")


def _unguarded_tables(session: Session) -> list[str]:
    """Ledger tables whose append-only triggers (migrations 0002, 0006) are gone or disabled."""
    if session.get_bind().dialect.name == "sqlite":
        names = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
        expected = {t: {f"{t}_no_update", f"{t}_no_delete"} for t in APPEND_ONLY_TABLES}
    else:
        # tgenabled 'D' = disabled (ALTER TABLE ... DISABLE TRIGGER); to_regclass follows the search_path.
        names = set(
            session.scalars(
                text(
                    "SELECT t.tgname FROM pg_trigger t WHERE t.tgenabled <> 'D' AND NOT t.tgisinternal "
                    "AND t.tgrelid IN (to_regclass('audit_events'), to_regclass('merkle_nodes'), "
                    "to_regclass('checkpoints'), to_regclass('checkpoint_cosignatures'))"
                )
            )
        )
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
        trusted: Sequence[CheckpointBody] = (),
    ) -> None:
        self.head_size = head.tree_size if head else 0
        self.head_root = head.root_hash if head else ""
        self.head_frontier = list(head.frontier) if head else []
        self.head_note = head.checkpoint_note if head else None
        self.trusted = list(trusted)
        self.signed_size = 0
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
        tree = merkle.ListTree(recomputed)
        self._checkpoints(tree)
        self._head_note(tree)
        self._coverage()
        self.findings.extend(trusted_findings(self.trusted, len(recomputed), tree.root))
        return VerifyReport(
            self.head_size,
            self.head_root,
            len(self.rows),
            len(self.checkpoints),
            self.public_key is not None,
            self.findings,
            signed_size=self.signed_size,
            trusted_checked=len(self.trusted),
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

    def _checkpoints(self, tree: merkle.ListTree) -> None:
        n = len(tree.leaves)
        if self.head_size > n:
            self.findings.append(
                Finding("head", None, f"the head counts {self.head_size} events, the table holds {n}")
            )
        elif tree.root(self.head_size).hex() != self.head_root:
            self.findings.append(
                Finding(
                    "head", None, f"the head's root for {self.head_size} events does not match the events"
                )
            )
        key_id = spki_sha256(self.public_key).hex() if self.public_key is not None else None
        previous_id, previous_size = 0, 0
        for c in self.checkpoints:
            label = f"checkpoint #{c.id} (size {c.tree_size})"
            if c.id != previous_id + 1:
                ids = f"#{previous_id + 1}" + ("" if c.id == previous_id + 2 else f"..#{c.id - 1}")
                self.findings.append(Finding("checkpoint", None, f"checkpoint {ids} deleted"))
            if c.tree_size < previous_size:
                self.findings.append(Finding("checkpoint", None, f"{label} is smaller than the one before"))
            previous_id, previous_size = c.id, max(previous_size, c.tree_size)
            if key_id is not None and c.key_id != key_id:
                self.findings.append(
                    Finding("checkpoint", None, f"{label}: signed by another key ({c.key_id[:16]}...)")
                )
                continue
            try:
                body, signed = self._open_row(c)
            except CheckpointError as error:
                self.findings.append(Finding("checkpoint", None, f"{label}: {error}"))
                continue
            if (body.tree_size, body.root_hash.hex()) != (c.tree_size, c.root_hash):
                self.findings.append(
                    Finding("checkpoint", None, f"{label}: the row's size/root differ from the signed body")
                )
            elif not signed:
                self.findings.append(Finding("checkpoint", None, f"{label}: the signature is not valid"))
                continue
            self._against_tree(label, body.tree_size, body.root_hash, tree)

    def _open_row(self, c: Checkpoint) -> tuple[CheckpointBody | LegacyCheckpoint, bool]:
        """(signed body, signature valid) of a checkpoint row: v2 C2SP note, or v1 body + signature."""
        if c.note is None:
            legacy = LegacyCheckpoint.parse(c.body)
            ok = self.public_key is None or LegacyCheckpoint.verify(c.body, c.signature, self.public_key)
            return legacy, ok
        if c.body != parse_note(c.note).text:
            raise CheckpointError("the row's body is not the text of its signed note")
        return self._open_note(c.note), True

    def _open_note(self, note: str) -> CheckpointBody:
        """The checkpoint in a note, its signature checked when there is a key (else CheckpointError)."""
        if self.public_key is None:
            return CheckpointBody.parse(parse_note(note).text)
        return open_checkpoint(note, log_verifier(self.public_key)).checkpoint

    def _against_tree(self, label: str, size: int, root: bytes, tree: merkle.ListTree) -> None:
        self.signed_size = max(self.signed_size, size)
        if size > len(tree.leaves):
            self.findings.append(
                Finding(
                    "checkpoint", None, f"{label}: signed {size} events, the table holds {len(tree.leaves)}"
                )
            )
        elif tree.root(size) != root:
            self.findings.append(
                Finding(
                    "checkpoint",
                    None,
                    f"{label}: the events it covers no longer hash to its root: changed after it was signed",
                )
            )

    def _head_note(self, tree: merkle.ListTree) -> None:
        """The signed checkpoint written with every append must cover exactly the head."""
        if not self.head_note:
            return
        try:
            body = self._open_note(self.head_note)
        except CheckpointError as error:
            self.findings.append(Finding("checkpoint", None, f"the head's signed checkpoint: {error}"))
            return
        # An older size is an unkeyed writer's tail (reported as `unsigned`); a larger one, or another
        # root for the head's size, is a head that no longer matches what was signed.
        if body.tree_size > self.head_size or (
            body.tree_size == self.head_size and body.root_hash.hex() != self.head_root
        ):
            self.findings.append(
                Finding(
                    "checkpoint",
                    None,
                    f"the head's signed checkpoint ({describe(body)}) is not the head's tree",
                )
            )
        self._against_tree("the head's signed checkpoint", body.tree_size, body.root_hash, tree)

    def _coverage(self) -> None:
        if self.signed_size < self.head_size:
            self.findings.append(
                Finding(
                    "unsigned",
                    self.signed_size,
                    f"no valid signed checkpoint covers events {self.signed_size}.."
                    f"{self.head_size - 1}: they are not protected (sign with "
                    "`veriframe-admin audit checkpoint --create`"
                    " or any append by the server)",
                    self.head_size - 1,
                )
            )


def trusted_findings(trusted: Sequence[CheckpointBody], size: int, root_at) -> list[Finding]:
    """The log of `size` events (root_at(n): root of its first n) against checkpoints kept outside."""
    findings = []
    for t in trusted:
        if t.tree_size > size:
            findings.append(
                Finding(
                    "rollback",
                    None,
                    f"the database holds a log of {size} events, smaller than "
                    f"the trusted checkpoint ({describe(t)}): rolled back or truncated",
                )
            )
        elif root_at(t.tree_size) != t.root_hash:
            findings.append(
                Finding(
                    "fork",
                    None,
                    f"the database's first {t.tree_size} events do not hash to "
                    f"the trusted checkpoint ({describe(t)}): the log was rewritten",
                )
            )
    return findings


# --- the incremental audit -------------------------------------------------------------------------

BATCH = 10_000


def verify_since(
    sessions: sessionmaker[Session],
    public_key: ec.EllipticCurvePublicKey | None,
    since: CheckpointBody,
    trusted: Sequence[CheckpointBody] = (),
) -> VerifyReport:
    """Audit only what came after the trusted checkpoint `since` (O(new events + log n) rows).

    Checks that the stored tree still has `since`'s root at its size (the log extends it), then
    recomputes every later event's leaf from its content, folds it into the tree, compares the interior
    nodes stored at append time, every checkpoint from `since` on and the head's signed note. Events
    before `since` are not re-read: the trusted root vouches for them (a full audit re-reads them).
    """
    with unavailable_as_error("the audit ledger database"), sessions() as session:
        snapshot(session)
        head = session.get(LedgerHead, 1)
        if head is None:
            raise LedgerError("the ledger head row is missing")
        report = VerifyReport(
            head.tree_size,
            head.root_hash,
            0,
            0,
            public_key is not None,
            from_size=since.tree_size,
            trusted_checked=1 + len(trusted),
        )
        if head.tree_size < since.tree_size:
            report.findings.append(
                Finding(
                    "rollback",
                    None,
                    f"the database holds a log of {head.tree_size} "
                    f"events, smaller than the trusted checkpoint ({describe(since)})",
                )
            )
            return report
        nodes = StoredNodes(session)
        try:
            frontier = nodes.run(
                lambda get: [get(lv, ix) for lv, ix in merkle.frontier_nodes(since.tree_size)]
            )
            older = [t for t in trusted if t.tree_size < since.tree_size]
            proofs = [
                nodes.run(lambda get, t=t: merkle.consistency_proof(t.tree_size, since.tree_size, get))
                for t in older
            ]
        except LedgerError as error:
            report.findings.append(
                Finding("fork", None, f"the stored tree cannot show the trusted size: {error}")
            )
            return report
        if merkle.frontier_root(frontier) != since.root_hash:
            report.findings.append(
                Finding(
                    "fork",
                    None,
                    f"the stored tree at size {since.tree_size} does not "
                    f"hash to the trusted checkpoint ({describe(since)}): rewritten",
                )
            )
            return report
        for t, proof in zip(older, proofs, strict=True):
            if not merkle.verify_consistency(
                t.tree_size, since.tree_size, t.root_hash, since.root_hash, proof
            ):
                report.findings.append(
                    Finding(
                        "fork",
                        None,
                        f"the trusted checkpoints {describe(t)} and "
                        f"{describe(since)} are not consistent in this database",
                    )
                )
        _Tail(session, head, public_key, since, report).run(frontier, [t for t in trusted if t not in older])
    return report


class _Tail:
    """The events after a trusted size, streamed: leaves, stored nodes, checkpoints and the head."""

    def __init__(
        self,
        session: Session,
        head: LedgerHead,
        public_key: ec.EllipticCurvePublicKey | None,
        since: CheckpointBody,
        report: VerifyReport,
    ) -> None:
        self.session, self.head, self.since, self.report = session, head, since, report
        self.opener = _Verifier(head, [], [], [], public_key)
        self.roots: dict[int, bytes] = {}  # tree size -> root, at the sizes something claims

    def run(self, frontier: list[bytes], trusted: list[CheckpointBody]) -> None:
        claims = self._claims(trusted)
        stored = self._stored_nodes()
        size = self.since.tree_size
        self.roots[size] = merkle.frontier_root(frontier)
        rows = self.session.execute(
            select(*EVENT_COLUMNS)
            .where(AuditEvent.seq >= size)
            .order_by(AuditEvent.seq)
            .execution_options(yield_per=BATCH)
        )
        for row in rows:
            if row.seq != size:
                self._find(
                    "deleted" if row.seq > size else "inserted", size, f"expected seq {size}, found {row.seq}"
                )
                return
            leaf = merkle.leaf_hash(event_bytes(row))
            if _hex_bytes(row.leaf_hash) != leaf:
                self._find("edited", size, "the event's content no longer matches its leaf hash")
            frontier, completed = merkle.frontier_append(frontier, size, leaf)
            for level, idx, value in completed:
                if stored.get((level, idx)) != value:
                    self._find(
                        "edited",
                        idx << level,
                        "rewritten: no longer matches the tree node stored when it was appended",
                        ((idx + 1) << level) - 1,
                    )
            size += 1
            self.report.events += 1
            if size in claims:
                self.roots[size] = merkle.frontier_root(frontier)
        self.roots[size] = merkle.frontier_root(frontier)
        self._settle(claims, size, trusted)

    def _find(self, kind: str, seq: int, detail: str, last: int | None = None) -> None:
        self.report.findings.append(Finding(kind, seq, detail, last if last is not None else seq))

    def _claims(self, trusted: list[CheckpointBody]) -> dict[int, list[tuple[str, bytes]]]:
        """Sizes >= the trusted one that a signed checkpoint (stored, head, trusted) gives a root for."""
        claims: dict[int, list[tuple[str, bytes]]] = defaultdict(list)
        rows = self.session.scalars(
            select(Checkpoint).where(Checkpoint.tree_size >= self.since.tree_size).order_by(Checkpoint.id)
        )
        for c in rows:
            self.report.checkpoints += 1
            label = f"checkpoint #{c.id} (size {c.tree_size})"
            try:
                body, signed = self.opener._open_row(c)
            except CheckpointError as error:
                self.report.findings.append(Finding("checkpoint", None, f"{label}: {error}"))
                continue
            if not signed:
                self.report.findings.append(
                    Finding("checkpoint", None, f"{label}: the signature is not valid")
                )
                continue
            claims[body.tree_size].append((label, body.root_hash))
        if self.head.checkpoint_note:
            try:
                body = self.opener._open_note(self.head.checkpoint_note)
                claims[body.tree_size].append(("the head's signed checkpoint", body.root_hash))
            except CheckpointError as error:
                self.report.findings.append(
                    Finding("checkpoint", None, f"the head's signed checkpoint: {error}")
                )
        for t in trusted:
            claims[t.tree_size].append((f"the trusted checkpoint ({describe(t)})", t.root_hash))
        return claims

    def _stored_nodes(self) -> dict[tuple[int, int], bytes]:
        """Interior nodes completed after the trusted size (idx >= size >> level at each level)."""
        start = self.since.tree_size
        levels = range(1, max(self.head.tree_size, 1).bit_length() + 1)
        rows = self.session.execute(
            select(MerkleNode.level, MerkleNode.idx, MerkleNode.hash).where(
                or_(*(and_(MerkleNode.level == lv, MerkleNode.idx >= start >> lv) for lv in levels))
            )
        )
        return {(lv, ix): bytes.fromhex(h) for lv, ix, h in rows}

    def _settle(
        self, claims: dict[int, list[tuple[str, bytes]]], size: int, trusted: list[CheckpointBody]
    ) -> None:
        if size != self.head.tree_size:
            self.report.findings.append(
                Finding("head", None, f"the head counts {self.head.tree_size} events, the table holds {size}")
            )
        elif self.roots[size].hex() != self.head.root_hash:
            self.report.findings.append(
                Finding("head", None, f"the head's root for {size} events does not match the events")
            )
        signed = [
            s
            for s, claimed in claims.items()
            if s <= size and any(label.startswith(("checkpoint", "the head")) for label, _ in claimed)
        ]
        self.report.signed_size = max([self.since.tree_size, *signed])
        for claimed_size, claimed in claims.items():
            for label, root in claimed:
                if claimed_size > size:
                    kind = "rollback" if label.startswith("the trusted") else "checkpoint"
                    self.report.findings.append(
                        Finding(kind, None, f"{label}: signed {claimed_size} events, the table holds {size}")
                    )
                elif self.roots.get(claimed_size) != root:
                    kind = "fork" if label.startswith("the trusted") else "checkpoint"
                    self.report.findings.append(
                        Finding(kind, None, f"{label}: the events it covers do not hash to its root")
                    )
        if self.report.signed_size < self.head.tree_size:
            self.report.findings.append(
                Finding(
                    "unsigned",
                    self.report.signed_size,
                    "no valid signed checkpoint "
                    f"covers events {self.report.signed_size}..{self.head.tree_size - 1}",
                    self.head.tree_size - 1,
                )
            )
