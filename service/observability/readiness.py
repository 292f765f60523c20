"""Readiness: may this server take traffic? `/readyz` answers it, and so does the gRPC health
service's overall status ("" service name), which follows it.

Ready means: the database answers, and for a server with workers, at least one worker has its model
loaded (an API-only server, `workers = 0`, needs only the database). Liveness (`/healthz`) is just
"the process answers".
"""

from __future__ import annotations

import asyncio
import contextlib
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
    if expected == 0:
        return "ok"
    if any(getattr(w, "engine", None) is not None for w in workers):
        return "ok"
    errors = [w.load_error for w in workers if getattr(w, "load_error", None)]
    if errors and len(errors) == len(workers):
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
        self.probe, self.on_change, self.interval = probe, on_change, interval
        self.latest: Readiness | None = None
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> Readiness:
        current = await self.probe()
        if self.latest is None or current.ready != self.latest.ready:
            log.info("readiness: %s %s", "ready" if current.ready else "not ready", current.checks)
            await self.on_change(current)
        self.latest = current
        return current

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="readiness")

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("readiness check failed (will retry)")
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
