"""What a server adds for its operators, in one object the app wiring starts and stops:

    ops = Observability(settings, mounts=[...])
    server = grpc.aio.server(interceptors=ops.interceptors(), ...)
    await ops.start(ctx, health_servicer)   # HTTP port (if configured), readiness loop
    await ops.stop()

The gRPC health service's overall status ("" service) follows readiness from then on.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from veriframe.service.observability import readiness as R
from veriframe.service.observability import tracing
from veriframe.service.observability.request_log import RequestObserver

log = logging.getLogger(__name__)


class Observability:
    def __init__(self, settings: Any, *, mounts: Iterable[Any] = ()) -> None:
        self.settings = settings
        self.mounts = list(mounts)
        self.http: Any = None  # HttpPort once started
        self.loop: R.ReadinessLoop | None = None
        self._ctx: Any = None
        self._health: Any = None

    def interceptors(self) -> list[Any]:
        """Tracing first (its span covers the rest), then the request observer (metrics, logs)."""
        chain: list[Any] = tracing.enable() if self.settings.tracing else []
        return [*chain, RequestObserver()]

    async def readiness(self) -> R.Readiness:
        ctx = self._ctx
        state = await R.check(ctx.sessions, ctx.workers, self.settings.workers)
        if ctx.workflow.model_error is not None:  # even API-only: Submit answers UNAVAILABLE meanwhile
            checks = {**state.checks, "model": "the model could not be loaded (see the server log)"}
            return dataclasses.replace(state, ready=False, checks=checks)
        return state

    async def _follow(self, state: R.Readiness) -> None:
        from grpc_health.v1 import health_pb2

        serving = health_pb2.HealthCheckResponse
        if self._health is not None:
            await self._health.set("", serving.SERVING if state.ready else serving.NOT_SERVING)

    async def start(self, ctx: Any, health_servicer: Any) -> None:
        """Raises OSError (with the address) when the HTTP port cannot be opened."""
        self._ctx, self._health = ctx, health_servicer
        self.loop = R.ReadinessLoop(self.readiness, self._follow)
        await self.loop.refresh()
        self.loop.start()
        if self.settings.http_listen:
            from veriframe.service.observability.http import HttpPort, build_app
            from veriframe.service.observability.metrics import registry_for

            app = build_app(registry_for(ctx.sessions), self.readiness, ctx=ctx, mounts=self.mounts)
            port = HttpPort(app, self.settings.http_listen)
            await port.start()
            self.http = port

    async def refresh(self) -> None:
        """Re-check readiness now (a worker loaded its model), not at the next tick."""
        if self.loop is not None:
            await self.loop.refresh()

    async def stop(self) -> None:
        if self._health is not None:
            from grpc_health.v1 import health_pb2

            await self._health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.loop is not None:
            await self.loop.stop()
        if self.http is not None:
            await self.http.stop()
        if self.settings.tracing:
            tracing.disable()
