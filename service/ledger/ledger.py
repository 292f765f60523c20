"""The audit ledger: one object over the database that hands each job to its role (docs/ledger.md).

- the log (`log.Log`): append, proofs;
- the signer (`signer.Signer`): the head's signed checkpoint in every append, stored checkpoints;
- the auditor (`auditor`): recompute and check everything, or only what came after a trusted checkpoint;
- retention (`retention`): prompt purges, recorded in the log.
What a verifier outside needs is `veriframe.provenance.transparency`, which imports none of these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from veriframe.provenance.transparency.checkpoint import Checkpoint as CheckpointBody
from veriframe.provenance.transparency.cosignature import CosignatureVerifier
from veriframe.provenance.transparency.note import load_public_key, parse_note
from veriframe.service.db.engine import reading, unavailable_as_error
from veriframe.service.db.models import AuditEvent, Checkpoint
from veriframe.service.ledger import auditor, retention
from veriframe.service.ledger.cosignatures import Added, Cosignatures
from veriframe.service.ledger.errors import LedgerError
from veriframe.service.ledger.log import (
    ConsistencyProof,
    EventInput,
    InclusionProof,
    Log,
    TreeHead,
    lock_head,
)
from veriframe.service.ledger.signer import Signer, checkpoint_row

__all__ = ["ConsistencyProof", "EventInput", "InclusionProof", "Ledger", "LedgerError", "TreeHead"]


class Ledger:
    """The audit ledger over a database made by `veriframe.service.db.upgrade`.

    `signing_key`: the P-256 ledger key (object, PEM bytes or a path such as `ledger-key.pem` from
    `veriframe keys init`). With it every append also signs the new head (same transaction); without
    it (e.g. an offline tool) appends leave an unsigned tail that verifiers report until the next
    signed append or `checkpoint()`.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        signing_key: ec.EllipticCurvePrivateKey | str | Path | bytes | None = None,
    ) -> None:
        self._sessions = session_factory
        self.signer = None if signing_key is None else Signer(signing_key)
        self.log = Log(session_factory, self.signer)
        self.cosignatures = Cosignatures(session_factory, self.log, self.signer)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey | None:
        return None if self.signer is None else self.signer.public_key

    # --- the log ---------------------------------------------------------------------------------

    def append(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        actor: str,
        tenant: str | None,
        job_id: str | None = None,
        session: Session | None = None,
    ) -> AuditEvent:
        """Record one event and return its row (with `seq` and `leaf_hash`).

        With `session`, the event joins the caller's transaction and is only durable when the caller
        commits; if anything fails, both roll back. Without, it commits on its own.
        Raises `DatabaseUnavailable` when the database cannot be reached.
        """
        item = EventInput(event_type, payload, actor, tenant, job_id)
        return self.log.write([item], session, as_objects=True)[0]

    def append_many(self, items: Sequence[EventInput], *, session: Session | None = None) -> list[int]:
        """Record several events under one lock and one transaction; returns their seqs."""
        return [row["seq"] for row in self.log.write(list(items), session, as_objects=False)]

    def head(self) -> TreeHead:
        return self.log.head()

    def event(self, seq: int) -> AuditEvent | None:
        return self.log.event(seq)

    def count(self) -> int:
        return self.log.count()

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        return self.log.inclusion_proof(seq, tree_size)

    def consistency_proof(self, first_size: int, second_size: int | None = None) -> ConsistencyProof:
        return self.log.consistency_proof(first_size, second_size)

    # --- the signer ------------------------------------------------------------------------------

    def _require_signer(self) -> Signer:
        if self.signer is None:
            raise LedgerError("no ledger signing key: pass signing_key= (e.g. ledger-key.pem)")
        return self.signer

    def checkpoint(self, *, session: Session | None = None) -> Checkpoint:
        """Store the head's signed checkpoint in `checkpoints` (signing it first if an unkeyed writer
        left it stale); returns the row, the newest one unchanged if the tree has not grown."""
        signer = self._require_signer()
        with unavailable_as_error("the audit ledger database"):
            if session is not None:
                return signer.store_checkpoint(session, lock_head(session))
            with self.log.local_lock, self._sessions.begin() as own:
                return signer.store_checkpoint(own, lock_head(own))

    def sign_head(self) -> None:
        """Sign the head if its note does not cover it (after appends by an unkeyed writer)."""
        signer = self._require_signer()
        if signer.head_is_signed(self.log.head_row()):
            return
        with (
            unavailable_as_error("the audit ledger database"),
            self.log.local_lock,
            self._sessions.begin() as s,
        ):
            signer.sign_head(lock_head(s))

    def latest_note(self) -> str | None:
        """The signed note over the current head (C2SP tlog-checkpoint), None if it has none yet."""
        return self.log.head_row().checkpoint_note

    def latest_stored_checkpoint(self) -> Checkpoint | None:
        """The newest row of `checkpoints` (what the periodic `checkpoint()` stored), None if none."""
        with unavailable_as_error("the audit ledger database"), reading(self._sessions()) as s:
            return s.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()

    def latest_checkpoint(self) -> Checkpoint | None:
        """The head's signed checkpoint as a (transient) `Checkpoint` row, or None without one."""
        head = self.log.head_row()
        if not head.checkpoint_note:
            return None
        body = CheckpointBody.parse(parse_note(head.checkpoint_note).text)
        key_id = self.signer.key_id if self.signer is not None else ""
        return checkpoint_row(
            head.checkpoint_note, key_id, body.tree_size, body.root_hash.hex(), head.updated_at
        )

    # --- witness cosignatures (`cosignatures`) ------------------------------------------------------

    def add_cosignatures(self, note: str, witnesses: Sequence[CosignatureVerifier]) -> Added:
        """Store the cosignatures by `witnesses` on this checkpoint note (CosignatureRefused if none)."""
        return self.cosignatures.add(note, witnesses)

    def with_cosignatures(self, row: Checkpoint | None) -> Checkpoint | None:
        """The checkpoint row as served: its note followed by the stored cosignature lines."""
        return self.cosignatures.served(row)

    def proof_checkpoint(self, seq: int) -> Checkpoint | None:
        """What to prove event `seq` against: the checkpoint covering it that witnesses cosigned most,
        else the head's (None when that does not cover it either); served with its cosignatures."""
        row = self.cosignatures.most_cosigned(seq)
        if row is None:
            row = self.with_cosignatures(self.latest_checkpoint())
        return row if row is not None and seq < row.tree_size else None

    # --- retention and the auditor -----------------------------------------------------------------

    def purge_prompts(self, now: datetime | None = None, *, actor: str = "system:retention") -> list[str]:
        """See `retention.purge_prompts`."""
        return retention.purge_prompts(self.log, self._sessions, now, actor=actor)

    def verify(
        self,
        public_key: ec.EllipticCurvePublicKey | str | Path | bytes | None = None,
        *,
        trusted: Sequence[CheckpointBody] = (),
        since: CheckpointBody | None = None,
    ) -> auditor.VerifyReport:
        """Check the ledger (see `auditor`); the key defaults to the signing key's public half.

        `trusted`: checkpoints kept outside the database, the log must extend each. `since`: audit only
        what came after this trusted checkpoint (incremental)."""
        key = self.public_key if public_key is None else load_public_key(public_key)
        if since is not None:
            return auditor.verify_since(self._sessions, key, since, trusted)
        return auditor.verify_ledger(self._sessions, key, trusted)
