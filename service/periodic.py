"""A step run every few seconds in the event loop until stopped: readiness checks, maintenance.

A step that raises is logged (with its traceback: it is the server's failure, not a client's) and
tried again after the next interval; cancelling (stop) ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Periodic:
    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        interval: float,
        logger: logging.Logger,
        failure: str,
        failure_pause: float = 0.0,
    ) -> None:
        """`failure`: the log line when a step raises, e.g. "maintenance step failed (will retry)";
        `failure_pause`: the least wait after a failed step (a model that cannot load is not retried
        every second)."""
        self.name, self.step, self.interval = name, step, interval
        self._log, self._failure, self._failure_pause = logger, failure, failure_pause
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while True:
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.exception(self._failure)
                await asyncio.sleep(max(0.0, self._failure_pause - self.interval))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
