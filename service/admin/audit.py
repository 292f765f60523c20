"""Audit queries, export, checkpoints, ledger verification and inclusion proofs."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from veriframe.service.admin.base import AdminBase
from veriframe.service.admin.views import (
    EXPORT_BATCH,
    AuditQuery,
    CheckpointView,
    CosignatureReceipt,
    InclusionView,
    LedgerCheck,
    authorize,
    page_bounds,
)
from veriframe.service.auth import Principal
from veriframe.service.clock import aware
from veriframe.service.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from veriframe.service.ledger import events as ev

if TYPE_CHECKING:
    from veriframe.service.db import AuditEvent


class AuditAdmin(AdminBase):
    """The audit log and the ledger's checkpoints and proofs."""

    @staticmethod
    def _audit_filter(query: Any, q: AuditQuery) -> Any:
        from veriframe.service.db import AuditEvent

        if q.job_id:
            query = query.where(AuditEvent.job_id == q.job_id)
        if q.actor:
            query = query.where(AuditEvent.actor == q.actor)
        if q.tenant:
            query = query.where(AuditEvent.tenant == q.tenant)
        if q.event_types:
            query = query.where(AuditEvent.event_type.in_(list(q.event_types)))
        if q.decision:
            if q.decision not in ("allow", "review", "block"):
                raise InvalidArgument("decision", "must be allow, review or block")
            query = query.where(
                AuditEvent.event_type == ev.SCREENED, AuditEvent.payload["decision"].as_string() == q.decision
            )
        if q.start is not None:
            query = query.where(AuditEvent.time >= q.start)
        if q.end is not None:
            query = query.where(AuditEvent.time < q.end)
        if q.start is not None and q.end is not None and q.end <= q.start:
            raise InvalidArgument("end_time", "must be after start_time")
        return query

    def search_audit(
        self,
        principal: Principal,
        query: AuditQuery,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> tuple[list[AuditEvent], str]:
        """Matching events, oldest first; the page token is the last seq returned."""
        from sqlalchemy import select

        from veriframe.service.db import AuditEvent

        authorize(principal, "SearchAudit")
        size, after = page_bounds(page_size, page_token)
        stmt = self._audit_filter(select(AuditEvent), query)
        if page_token:
            stmt = stmt.where(AuditEvent.seq > after)
        with self._sessions() as s:
            rows = list(s.scalars(stmt.order_by(AuditEvent.seq).limit(size + 1)))
        return rows[:size], str(rows[size - 1].seq) if len(rows) > size else ""

    def export_audit(self, principal: Principal, query: AuditQuery) -> Iterator[AuditEvent]:
        """Every matching event, oldest first, read in batches (constant memory).

        The role and the filters are checked here, before the first row is asked for."""
        from sqlalchemy import select

        from veriframe.service.db import AuditEvent

        authorize(principal, "ExportAudit")
        stmt = self._audit_filter(select(AuditEvent), query)

        def rows() -> Iterator[AuditEvent]:
            after = -1
            while True:
                with self._sessions() as s:
                    batch = list(
                        s.scalars(
                            stmt.where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(EXPORT_BATCH)
                        )
                    )
                yield from batch
                if len(batch) < EXPORT_BATCH:
                    return
                after = batch[-1].seq

        return rows()

    def get_audit_event(self, principal: Principal, seq: int) -> AuditEvent:
        authorize(principal, "GetAuditEvent")
        row = self._ledger.event(seq)
        if row is None:
            raise NotFound(f"audit event {seq} not found")
        return row

    def get_checkpoint(self, principal: Principal, *, create: bool = False) -> CheckpointView:
        """The latest signed checkpoint; `create` signs one over the current tree first."""
        from veriframe.service.ledger import LedgerError

        authorize(principal, "GetCheckpoint")
        try:
            row = self._ledger.checkpoint() if create else self._ledger.latest_checkpoint()
        except LedgerError as error:
            raise FailedPrecondition(str(error), reason="NO_LEDGER_KEY") from None
        if row is None:
            raise NotFound("the ledger has no checkpoint yet (GetCheckpoint with create=true signs one)")
        return self._checkpoint_view(row)

    def _checkpoint_view(self, row: Any) -> CheckpointView:
        from cryptography.hazmat.primitives import serialization

        row = self._ledger.with_cosignatures(row)
        key = self._ledger.public_key
        pem = (
            ""
            if key is None
            else key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        )
        return CheckpointView(
            row.tree_size,
            row.root_hash,
            aware(row.timestamp),  # type: ignore[arg-type]
            base64.b64decode(row.signature),
            row.body.encode(),
            row.key_id,
            pem,
            row.note or "",
        )

    def latest_checkpoint(self, principal: Principal, *, stored: bool = False) -> CheckpointView:
        """The signed checkpoint over the whole current log (the head's, signed with every append);
        `stored`: the latest one kept in `checkpoints`, the same for every witness for a while."""
        authorize(principal, "GetLatestCheckpoint")
        if stored:
            row = self._ledger.latest_stored_checkpoint()
            if row is None or not row.note:
                raise NotFound("the ledger has stored no signed checkpoint yet: the server stores one at "
                               "start and every checkpoint_interval_seconds")
            return self._checkpoint_view(row)
        row = self._ledger.latest_checkpoint()
        if row is None:
            raise NotFound("the ledger has no signed checkpoint yet: the server signs one with its next "
                           "append")
        return self._checkpoint_view(row)

    def add_cosignature(self, principal: Principal, note: str) -> CosignatureReceipt:
        """Keep a configured witness's cosignature of one of this log's checkpoints (idempotent)."""
        from veriframe.service.ledger import CosignatureRefused, LedgerError

        authorize(principal, "AddCosignature")
        if not note.strip():
            raise InvalidArgument("note", "required: the checkpoint note with the witness's cosignature line")
        try:
            added = self._ledger.add_cosignatures(note, self._witnesses)
        except CosignatureRefused as error:
            if error.kind == "unknown_witness":
                raise PermissionDenied(str(error)) from None
            if error.kind == "unknown_checkpoint":
                raise NotFound(str(error)) from None
            raise InvalidArgument("note", str(error)) from None
        except LedgerError as error:
            raise FailedPrecondition(str(error), reason="NO_LEDGER_KEY") from None
        view = self._checkpoint_view(added.checkpoint)
        return CosignatureReceipt(view, added.added, added.already, added.ignored)

    def consistency_proof(self, principal: Principal, first_size: int, second_size: int = 0) -> Any:
        """RFC 9162 proof that the tree of `second_size` (0: current) extends the tree of `first_size`."""
        from veriframe.service.ledger import LedgerError

        authorize(principal, "GetConsistencyProof")
        try:
            return self._ledger.consistency_proof(first_size, second_size or None)
        except LedgerError as error:
            raise InvalidArgument("first_size", str(error)) from None

    def verify_ledger(self, principal: Principal) -> LedgerCheck:
        """Recompute the tree from the events; check every checkpoint (signed with the server's key)."""
        authorize(principal, "VerifyLedger")
        report = self._ledger.verify()
        return LedgerCheck(
            report.ok,
            report.tree_size,
            report.root_hash,
            report.checkpoints,
            [str(f) for f in report.findings],
        )

    def inclusion_proof(self, principal: Principal, seq: int, tree_size: int = 0) -> InclusionView:
        """Proof for event `seq` in a tree of `tree_size` (0: the latest checkpoint covering it, else now)."""
        from sqlalchemy import select

        from veriframe.service.db import Checkpoint
        from veriframe.service.ledger import LedgerError

        authorize(principal, "GetInclusionProof")
        with self._sessions() as s:
            if tree_size:
                cp_row = s.scalars(
                    select(Checkpoint)
                    .where(Checkpoint.tree_size == tree_size)
                    .order_by(Checkpoint.id.desc())
                    .limit(1)
                ).first()
            else:
                cp_row = self._ledger.latest_checkpoint()  # the head's: signed with every append
        size = tree_size or (cp_row.tree_size if cp_row is not None else None)
        try:
            proof = self._ledger.inclusion_proof(seq, size)
        except LedgerError as error:
            raise NotFound(str(error)) from None
        verified = proof.verify() and (cp_row is None or cp_row.root_hash == proof.root_hash)
        return InclusionView(
            seq,
            proof.tree_size,
            proof.leaf_hash,
            list(proof.path),
            proof.root_hash,
            verified,
            self._checkpoint_view(cp_row) if cp_row is not None else None,
        )
