"""Witness cosignatures the server keeps and serves with its checkpoints (c2sp.org/tlog-cosignature).

A witness sends the log's checkpoint note with its cosignature line added (AddCosignature). A line is
kept only if it is a valid Ed25519 cosignature by a witness the operator configured (`witness_keys`)
over the body of a checkpoint this log signed: a stored one, or one at least as large as the last
stored whose root is the log's own root at that size. The second case exists because the head is
re-signed with every append, so the head a witness cosigned has often moved on when the cosignature
arrives; that checkpoint is stored first (sizes in `checkpoints` still only grow, as the auditor
demands). Served notes carry the log's signature, then the stored lines: a verifier that does not know
a witness ignores its line (signed-note rules).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.checkpoint import Checkpoint as CheckpointBody
from veriframe.provenance.transparency.cosignature import CosignatureVerifier, parse_vkey
from veriframe.provenance.transparency.note import (
    MAX_SIGNATURES,
    Note,
    NoteError,
    NoteSignature,
    parse_note,
    verify_note,
)
from veriframe.service.db.engine import reading, unavailable_as_error
from veriframe.service.db.models import Checkpoint, CheckpointCosignature
from veriframe.service.ledger.errors import LedgerError
from veriframe.service.ledger.log import StoredNodes, lock_head
from veriframe.service.ledger.signer import checkpoint_row

if TYPE_CHECKING:
    from veriframe.service.ledger.log import Log
    from veriframe.service.ledger.signer import Signer


class CosignatureRefused(LedgerError):
    """`kind`: malformed | unknown_checkpoint | unknown_witness | invalid (the caller maps it)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Added:
    checkpoint: Checkpoint  # as served now (transient row): the log's note and every stored cosignature
    added: list[str]  # witnesses whose cosignature this call stored
    already: list[str]  # witnesses that had one stored for this checkpoint (kept, not replaced)
    ignored: list[str]  # lines by witnesses the server was not configured with (not stored)


def load_witness_keys(entries: Sequence[str | Path]) -> list[CosignatureVerifier]:
    """Witness verifier keys from vkey strings (`<name>+<hex key ID>+<base64>`) or files holding one."""
    witnesses: list[CosignatureVerifier] = []
    for entry in entries:
        text = str(entry).strip()
        try:
            is_file = Path(text).is_file()
        except OSError:  # e.g. a vkey longer than a file name may be
            is_file = False
        try:
            witnesses.append(parse_vkey(Path(text).read_text() if is_file else text))
        except OSError as error:
            raise ValueError(f"witness key file {text!r}: {error.strerror}") from None
        except NoteError as error:
            where = f"the file {text!r}" if is_file else f"{text[:80]!r} (not a vkey, nor an existing file)"
            raise ValueError(f"witness key {where}: {error}") from None
    ids = [w.key_id for w in witnesses]
    if len(set(ids)) != len(ids):
        raise ValueError("two witness keys have the same key ID: list each witness once")
    return witnesses


def _shown(signature_name: str, key_id: bytes) -> str:
    return f"{signature_name} ({key_id.hex()})"


def _witnessed(
    note: Note, body: CheckpointBody, witnesses: Sequence[CosignatureVerifier], log_signature: NoteSignature
) -> list[tuple[CosignatureVerifier, NoteSignature]]:
    """The note's lines by configured witnesses, each verified over the checkpoint; lines by others
    are ignored (signed-note rules), but a note with none of ours is refused."""
    others = [s for s in note.signatures if s != log_signature]
    known = {(w.name, w.key_id): w for w in witnesses}
    ours = [(known[(s.name, s.key_id)], s) for s in others if (s.name, s.key_id) in known]
    if not ours:
        carried = ", ".join(_shown(s.name, s.key_id) for s in others) or "no cosignature line"
        trusted = ", ".join(_shown(w.name, w.key_id) for w in witnesses) or "none configured"
        raise CosignatureRefused(
            "unknown_witness",
            f"no cosignature by a witness this server accepts (witness_keys: {trusted}); "
            f"the note carries {carried}",
        )
    for witness, signature in ours:
        if not witness.verify(note.text.encode(), signature.signature):
            raise CosignatureRefused(
                "invalid",
                f"the cosignature of {_shown(witness.name, witness.key_id)} does not verify over "
                f"this checkpoint (size {body.tree_size}): made over another checkpoint, or altered",
            )
    return ours


class Cosignatures:
    """Stores and serves cosignatures; holds the log's lock while it stores (see module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], log: Log, signer: Signer | None) -> None:
        self._sessions, self._log, self._signer = sessions, log, signer

    def add(self, note_text: str, witnesses: Sequence[CosignatureVerifier]) -> Added:
        note, body, log_signature = self._log_note(note_text)
        ours = _witnessed(note, body, witnesses, log_signature)
        kept = {signature for _, signature in ours}
        ignored = [s.name for s in note.signatures if s != log_signature and s not in kept]
        added, already = [], []
        with (
            unavailable_as_error("the audit ledger database"),
            self._log.local_lock,
            self._sessions.begin() as s,
        ):
            row = self._checkpoint_for(s, body, Note(note.text, (log_signature,)))
            mine = select(CheckpointCosignature.key_id).where(CheckpointCosignature.checkpoint_id == row.id)
            stored = set(s.scalars(mine))
            for witness, signature in ours:
                key_id = signature.key_id.hex()
                if key_id in stored:
                    already.append(witness.name)
                    continue
                line = signature.line().rstrip("\n")
                s.add(CheckpointCosignature(
                    checkpoint_id=row.id, witness_name=witness.name, key_id=key_id, line=line
                ))
                stored.add(key_id)
                added.append(witness.name)
        return Added(self.served(row), added, already, ignored)

    def _log_note(self, note_text: str) -> tuple[Note, CheckpointBody, NoteSignature]:
        """The note, its checkpoint and the log's signature on it (checked with this log's key)."""
        if self._signer is None:
            raise LedgerError("no ledger signing key: this ledger signs no checkpoints to cosign")
        signer = self._signer
        try:
            note = parse_note(note_text)
            body = CheckpointBody.parse(note.text)
        except NoteError as error:
            raise CosignatureRefused("malformed", f"not a checkpoint note: {error}") from None
        if body.origin != signer.origin:
            raise CosignatureRefused(
                "malformed", f"a checkpoint of log {body.origin!r}; this server's log is {signer.origin!r}"
            )
        try:
            verify_note(note, [signer.verifier])
        except NoteError as error:
            raise CosignatureRefused("malformed", f"the log's signature: {error}") from None
        log_key = (signer.origin, signer.verifier.key_id)
        return note, body, next(s for s in note.signatures if (s.name, s.key_id) == log_key)

    def _checkpoint_for(self, s: Session, body: CheckpointBody, log_note: Note) -> Checkpoint:
        """The stored checkpoint with exactly this body; else store it, if this log can have signed it."""
        head = lock_head(s)  # appends and `checkpoint()` wait: stored sizes stay in order
        same = select(Checkpoint).where(
            Checkpoint.tree_size == body.tree_size, Checkpoint.body == log_note.text
        )
        row = s.scalars(same.order_by(Checkpoint.id).limit(1)).first()
        if row is not None:
            return row
        size = body.tree_size
        if size > head.tree_size:
            raise CosignatureRefused(
                "unknown_checkpoint",
                f"the log has {head.tree_size} events: it has no checkpoint of size {size}",
            )
        latest = s.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()
        if latest is not None and size < latest.tree_size:
            raise CosignatureRefused(
                "unknown_checkpoint",
                f"no stored checkpoint of size {size} with this root, and it is older than the latest "
                f"stored one (size {latest.tree_size}): cosign the latest checkpoint (GetLatestCheckpoint)",
            )
        root = StoredNodes(s).run(lambda get: merkle.tree_root(size, get))
        if root != body.root_hash:
            raise CosignatureRefused(
                "unknown_checkpoint",
                f"the log's tree of size {size} has another root: not a checkpoint of this log",
            )
        row = checkpoint_row(log_note.encode(), self._signer.key_id, size, root.hex())  # type: ignore[union-attr]
        s.add(row)
        s.flush()
        return row

    def served(self, row: Checkpoint | None) -> Checkpoint | None:
        """`row` as a transient copy whose note carries the stored cosignatures (`row` if it has none)."""
        if row is None or not row.note:
            return row  # v1 checkpoints are not signed notes: nothing to append to
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            lines = list(s.scalars(
                select(CheckpointCosignature.line)
                .join(Checkpoint, CheckpointCosignature.checkpoint_id == Checkpoint.id)
                .where(Checkpoint.tree_size == row.tree_size, Checkpoint.body == row.body)
                .order_by(CheckpointCosignature.id)
            ))
        present = parse_note(row.note).signatures
        fresh = [line for line in dict.fromkeys(lines) if line + "\n" not in row.note]
        if not fresh:
            return row
        note = row.note + "".join(line + "\n" for line in fresh[: MAX_SIGNATURES - len(present)])
        return checkpoint_row(note, row.key_id, row.tree_size, row.root_hash, row.timestamp)

    def most_cosigned(self, seq: int) -> Checkpoint | None:
        """The stored checkpoint covering event `seq` with the most cosignatures (then the largest)."""
        count = func.count(CheckpointCosignature.id)
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            found = s.execute(
                select(Checkpoint.id)
                .join(CheckpointCosignature, CheckpointCosignature.checkpoint_id == Checkpoint.id)
                .where(Checkpoint.tree_size > seq)
                .group_by(Checkpoint.id, Checkpoint.tree_size)
                .order_by(count.desc(), Checkpoint.tree_size.desc(), Checkpoint.id.desc())
                .limit(1)
            ).scalar()
            row = s.get(Checkpoint, found) if found is not None else None
        return self.served(row)
