"""What every servicer needs: the server's context, built once by `veriframe.service.server.app`, and
the caller of the RPC being handled, set by the auth interceptor (docs/architecture.md)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veriframe.service.admin import AdminService
    from veriframe.service.auth import Authenticator, Principal
    from veriframe.service.flow.workflow import Workflow
    from veriframe.service.settings import Settings
    from veriframe.service.store.jobs import JobStore
    from veriframe.service.worker import JobNotifier, Worker

_PRINCIPAL: contextvars.ContextVar[Principal] = contextvars.ContextVar("veriframe_principal")


def current_principal() -> Principal:
    """The authenticated caller of the RPC being handled (set by the auth interceptor)."""
    return _PRINCIPAL.get()


def set_principal(principal: Principal) -> None:
    _PRINCIPAL.set(principal)


@dataclass
class ServerContext:
    """Everything a servicer needs (the admin servicer included)."""

    settings: Settings
    sessions: Any
    ledger: Any
    store: JobStore
    workflow: Workflow
    auth: Authenticator
    notifier: JobNotifier
    workers: list[Worker] = field(default_factory=list)
    ledger_public_key_pem: str = ""
    admin: AdminService | None = None  # the moderation admin domain (set once the context is built)

    def wake_workers(self) -> None:
        for worker in self.workers:
            worker.wake()

    def job_changed(self, job_id: str) -> None:
        """A job changed outside the worker (e.g. approved): wake its event streams and the workers."""
        self.notifier.notify(job_id)
        self.wake_workers()
