"""The server's HTTP port (`veriframe serve --http-listen HOST:PORT`): an aiohttp application served
in the gRPC server's event loop.

    GET /metrics   Prometheus text format (veriframe_* and process metrics)
    GET /healthz   200 while the process answers (liveness)
    GET /readyz    200 when ready, 503 otherwise; JSON {"ready": ..., "checks": {...}} (readiness)

Other modules add their own routes with `mounts`: callables `(app, ctx)` run before the port opens,
e.g. `lambda app, ctx: app.add_subapp("/console/", console_app(ctx))`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from veriframe.service.observability.readiness import Readiness
from veriframe.service.settings import parse_listen

log = logging.getLogger(__name__)
Mount = Callable[[web.Application, Any], None]


def build_app(
    registry: CollectorRegistry,
    readiness: Callable[[], Awaitable[Readiness]],
    *,
    ctx: Any = None,
    mounts: Iterable[Mount] = (),
) -> web.Application:
    app = web.Application()

    async def metrics(request: web.Request) -> web.Response:
        import asyncio

        body = await asyncio.to_thread(generate_latest, registry)  # the database collector blocks
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        state = await readiness()
        return web.json_response(state.as_json(), status=200 if state.ready else 503)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for mount in mounts:
        mount(app, ctx)
    return app


class HttpPort:
    """Start and stop the aiohttp application on host:port (port 0 picks a free one: see `.port`)."""

    def __init__(self, app: web.Application, listen: str) -> None:
        self.app = app
        self.host, self._requested_port = parse_listen(listen)
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None)  # the gRPC side has the request lines
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port, reuse_port=False)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            where = f"{self.host}:{self._requested_port}"
            raise OSError(error.errno, f"cannot listen on {where}: {error.strerror}") from None
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("HTTP (metrics, health) on %s:%d", self.host, self.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
