"""Readiness: may this server take traffic? `/readyz` answers it, and so does the gRPC health
service's overall status ("" service name), which follows it.

Ready means: the database answers, and for a server with workers, at least one worker has its model
loaded (an API-only server, `workers = 0`, needs only the database). Liveness (`/healthz`) is just
"the process answers".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: dict[str, str] = field(default_factory=dict)  # name -> "ok" or why not

    def as_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "checks": self.checks}


def database_check(sessions: Any) -> str:
    """'ok', or why the database cannot be reached (blocking: run it in a thread)."""
    from sqlalchemy import text

    try:
        with sessions() as s:
            s.execute(text("SELECT 1"))
    except Exception as error:
        return f"unreachable ({type(error).__name__})"
    return "ok"


def workers_check(workers: list[Any], expected: int) -> str:
    """'ok' once any worker has its model (`Worker.model_state`); an API-only server needs none."""
    if expected == 0:
        return "ok"
    states = [w.model_state for w in workers]
    if "loaded" in states:
        return "ok"
    if states and all(state == "failed" for state in states):
        return "the model could not be loaded (see the server log)"
    return "loading the model"


async def check(sessions: Any, workers: list[Any], expected_workers: int) -> Readiness:
    checks = {
        "database": await asyncio.to_thread(database_check, sessions),
        "model": workers_check(workers, expected_workers),
    }
    return Readiness(all(v == "ok" for v in checks.values()), checks)


class ReadinessLoop:
    """Re-checks readiness every `interval` seconds and hands each change to `on_change` (which sets
    the gRPC health status); `/readyz` reads the latest result or checks afresh."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[Readiness]],
        on_change: Callable[[Readiness], Awaitable[None]],
        interval: float = 2.0,
    ) -> None:
        from veriframe.service.periodic import Periodic

        self.probe, self.on_change, self.interval = probe, on_change, interval
        self.latest: Readiness | None = None
        self._loop = Periodic("readiness", self.refresh, interval, log, "readiness check failed (will retry)")

    async def refresh(self) -> Readiness:
        current = await self.probe()
        if self.latest is None or current.ready != self.latest.ready:
            log.info("readiness: %s %s", "ready" if current.ready else "not ready", current.checks)
            await self.on_change(current)
        self.latest = current
        return current

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
