"""What every part of the admin domain holds: sessions, the ledger, the workflow, a change hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.provenance.transparency.cosignature import CosignatureVerifier
    from veriframe.service.flow.workflow import Workflow
    from veriframe.service.ledger import Ledger


class AdminBase:
    """The moderation admin domain's state. One per server process; thread-safe (a session per call).

    `workflow`: decides reviews and provides the screening classifier.
    `on_job_change`: called with a job id after a commit that changed its state (e.g. to wake the
    worker and the job's event streams).
    `witnesses`: the witnesses whose cosignatures AddCosignature accepts (setting `witness_keys`).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        workflow: Workflow,
        *,
        on_job_change: Callable[[str], None] | None = None,
        witnesses: Sequence[CosignatureVerifier] = (),
    ) -> None:
        self._sessions = sessions
        self._ledger = ledger
        self._workflow = workflow
        self._on_job_change = on_job_change
        self._witnesses = list(witnesses)

    def _notify(self, job_id: str) -> None:
        if self._on_job_change is not None:
            self._on_job_change(job_id)
