"""The one policy repository: the `policies` table, its versions, its digest and the ledger event.

Every version is a row (`veriframe.safety.policy.Policy.to_dict()`, its "version" equal to the row's);
the highest version is live. On a database where nothing is stored yet the live policy is
`veriframe.safety.policy.default_policy()` (version 1). A new version is checked by
`veriframe.safety.policy_check` and recorded (`admin.policy_changed`, with
`veriframe.safety.policy.document_digest`) in the same transaction. The walk: docs/architecture.md.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from veriframe.service.clock import aware
from veriframe.service.db import Policy as PolicyRow
from veriframe.service.db import unavailable_as_error
from veriframe.service.errors import InvalidArgument, NotFound
from veriframe.service.ledger import events as ev

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.safety.policy import Policy
    from veriframe.service.ledger import Ledger

DEFAULT_SOURCE = "safety/default_policy.json (not stored yet)"


@dataclass(frozen=True)
class PolicyRecord:
    version: int
    document: dict[str, Any]
    created_by: str
    created_at: datetime | None
    comment: str
    live: bool


def _record(row: PolicyRow, live: bool) -> PolicyRecord:
    return PolicyRecord(
        row.version,
        {**row.document, "version": row.version},
        row.created_by,
        aware(row.created_at),
        row.comment,
        live,
    )


def default_record(live: bool) -> PolicyRecord:
    from veriframe.safety.policy import default_policy

    policy = default_policy()
    return PolicyRecord(policy.version, policy.to_dict(), "built-in default", None, DEFAULT_SOURCE, live)


def live_record(session: Session) -> PolicyRecord:
    """The policy in force: the highest stored version, else the built-in default."""
    row = session.scalars(select(PolicyRow).order_by(PolicyRow.version.desc()).limit(1)).first()
    return default_record(True) if row is None else _record(row, True)


def record(session: Session, version: int) -> PolicyRecord:
    """Version `version` (0: the live one); NotFound if it was never stored."""
    live = live_record(session)
    if not version or version == live.version:
        return live
    row = session.get(PolicyRow, version)
    if row is None:
        raise NotFound(f"policy version {version} not found (live: v{live.version})")
    return _record(row, False)


def records(session: Session, *, offset: int, limit: int) -> list[PolicyRecord]:
    """Stored versions, newest first (the built-in default alone while nothing is stored)."""
    live = live_record(session)
    newest_first = select(PolicyRow).order_by(PolicyRow.version.desc())
    rows = list(session.scalars(newest_first.offset(offset).limit(limit)))
    if not rows and not offset:
        return [live]
    return [_record(r, r.version == live.version) for r in rows]


def insert_version(
    session: Session,
    ledger: Ledger,
    document: dict[str, Any],
    *,
    actor: str,
    comment: str,
    version: int,
    extra: dict[str, Any] | None = None,
) -> PolicyRecord:
    """Store `document` as `version` (checked fail-closed) and record it, in `session`'s transaction."""
    from veriframe.safety.policy import document_digest
    from veriframe.safety.policy_check import PolicyDocumentError, validate_document

    try:
        clean = validate_document(document, version)
    except PolicyDocumentError as error:
        raise InvalidArgument(error.field, error.message) from None
    row = PolicyRow(version=version, document=clean, created_by=actor, comment=comment)
    session.add(row)
    payload = ev.policy_changed(version=version, document_sha256=document_digest(clean), comment=comment)
    payload.update(extra or {})
    ledger.append(ev.ADMIN_POLICY_CHANGED, payload, actor=actor, tenant=None, session=session)
    session.flush()
    return PolicyRecord(version, clean, actor, aware(row.created_at), comment, True)


class PolicyCache:
    """The live policy as `veriframe.safety.policy.Policy`, parsed once per version (Submit reads it)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._parsed: dict[int, Policy] = {}
        self._lock = threading.Lock()

    def live(self) -> tuple[int, Policy]:
        from veriframe.safety.policy import Policy

        with unavailable_as_error(), self._sessions() as s:
            current = live_record(s)
        with self._lock:
            if current.version not in self._parsed:
                self._parsed[current.version] = Policy.from_dict(current.document)
            return current.version, self._parsed[current.version]


def ensure_default(sessions: sessionmaker[Session], ledger: Ledger) -> int:
    """Store the default policy as version 1 on a fresh database (recorded); 0 if one is stored."""
    from sqlalchemy import exc

    from veriframe.safety.policy import default_policy

    policy = default_policy()
    try:
        with unavailable_as_error(), sessions.begin() as s:
            if s.scalar(select(PolicyRow.version).limit(1)) is not None:
                return 0
            insert_version(
                s, ledger, policy.to_dict(), actor="system", comment="default policy", version=policy.version
            )
            return policy.version
    except exc.IntegrityError:  # another server, starting at the same moment, stored it first
        return 0
