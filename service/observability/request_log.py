"""One request line per RPC, and the RPC metrics: a grpc.aio server interceptor.

Every RPC is timed and counted (`veriframe_rpc_requests_total`, `veriframe_rpc_duration_seconds`) by
method and status code, and logged on the `veriframe.access` logger with the fields `rpc`, `code`,
`latency_ms`, `tenant` and `job_id` (JSON keys with `--log-format json`). What is never logged: the
API key (only its public prefix appears in auth messages), the prompt, request bodies, tracebacks of
client errors.

The tenant is known only after authentication, deep inside the handler: the auth code calls
`note(tenant=...)`, which fills in the current request's `RequestInfo` (a context variable the
interceptor sets; `asyncio.to_thread` carries it into threads).

Client mistakes that an attacker can repeat cheaply (bad keys, denied roles, rate limits) are logged at
INFO through a per-kind rate limit (`LogThrottle`), so a flood of bad requests cannot flood the log.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from veriframe.service.observability import metrics

access_log = logging.getLogger("veriframe.access")

# Codes that mean "the caller's fault, cheaply repeatable": logged through the throttle.
THROTTLED_CODES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED"})
# Codes that mean "the server's fault": WARNING.
SERVER_CODES = frozenset({"INTERNAL", "UNKNOWN", "DATA_LOSS", "UNAVAILABLE"})


@dataclass
class RequestInfo:
    rpc: str
    tenant: str = ""
    job_id: str = ""


_current: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "veriframe_request", default=None
)


def note(*, tenant: str | None = None, job_id: str | None = None) -> None:
    """Attach what the handler learned (the caller's tenant, the job) to the current request line."""
    info = _current.get()
    if info is None:
        return
    if tenant:
        info.tenant = tenant
    if job_id:
        info.job_id = job_id


class LogThrottle:
    """At most `per_interval` lines per kind per `interval` seconds; the rest are counted and the count
    is reported on the next line that gets through. Thread-safe; remembers at most `max_kinds` kinds
    (past it the oldest is forgotten), so a client that invents kinds cannot grow it without bound.
    The one rate limit for log lines: the request log and the rejection log
    (`veriframe.service.server.rejections`) both use it."""

    def __init__(
        self,
        per_interval: int = 20,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_kinds: int = 1024,
    ):
        self.per_interval, self.interval, self._clock = per_interval, interval, clock
        self.max_kinds = max_kinds
        self._windows: dict[str, tuple[float, int, int]] = {}  # kind -> (window start, lines, suppressed)
        self._lock = threading.Lock()

    def allow(self, kind: str) -> tuple[bool, int]:
        """(log this one?, lines suppressed since the last one that was logged)."""
        now = self._clock()
        with self._lock:
            if kind not in self._windows and len(self._windows) >= self.max_kinds:
                self._windows.pop(next(iter(self._windows)))
            start, lines, suppressed = self._windows.get(kind, (now, 0, 0))
            if now - start >= self.interval:
                start, lines = now, 0
            if lines < self.per_interval:
                self._windows[kind] = (start, lines + 1, 0)
                return True, suppressed
            self._windows[kind] = (start, lines, suppressed + 1)
            return False, 0


_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _job_id(message: Any) -> str:
    """The job a request or response is about, when it names one (GetJob, Download, Submit's reply...)."""
    value = getattr(message, "job_id", None)
    if isinstance(value, str) and value:
        # A client's job_id is its own text until checked: log it only when it has a job id's shape.
        return value if _JOB_ID.fullmatch(value) else "(not a job id)"
    job = message if _is_job(message) else getattr(message, "job", None)
    value = getattr(job, "id", None) if _is_job(job) else None
    return value if isinstance(value, str) else ""


def _is_job(message: Any) -> bool:
    return getattr(getattr(message, "DESCRIPTOR", None), "full_name", "") == "veriframe.v1.Job"


def _job_state(message: Any) -> str:
    job = message if _is_job(message) else getattr(message, "job", None)
    if not _is_job(job):
        return ""
    state = job.state
    try:
        name = job.DESCRIPTOR.fields_by_name["state"].enum_type.values_by_number[state].name
        return name.removeprefix("JOB_STATE_")
    except (AttributeError, KeyError):
        return ""


class RequestObserver(grpc.aio.ServerInterceptor):
    """Times, counts and logs every RPC; must be the first interceptor so it sees the final code."""

    def __init__(self, throttle: LogThrottle | None = None) -> None:
        self.throttle = throttle or LogThrottle()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=self._unary(method, handler.unary_unary))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=self._stream(method, handler.unary_stream))
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=self._unary(method, handler.stream_unary))
        return handler._replace(stream_stream=self._stream(method, handler.stream_stream))

    def _unary(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            info, token, start = self._begin(method, request)
            response, failure = None, None
            try:
                response = await behavior(request, context)
                return response
            except BaseException as error:
                failure = error
                raise
            finally:
                _current.reset(token)
                self._end(info, context, start, response, failure)

        return observed

    def _stream(self, method: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def observed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            info, token, start = self._begin(method, request)
            last, failure = None, None
            try:
                async for item in behavior(request, context):
                    last = item
                    yield item
            except BaseException as error:
                failure = error
                raise
            finally:
                _current.reset(token)
                self._end(info, context, start, last, failure)

        return observed

    @staticmethod
    def _begin(method: str, request: Any) -> tuple[RequestInfo, contextvars.Token[Any], float]:
        info = RequestInfo(rpc=method, job_id=_job_id(request))
        return info, _current.set(info), time.perf_counter()

    def _end(
        self,
        info: RequestInfo,
        context: grpc.aio.ServicerContext,
        start: float,
        response: Any,
        failure: BaseException | None,
    ) -> None:
        seconds = time.perf_counter() - start
        code = _code(context, failure)
        if not info.job_id and response is not None:
            info.job_id = _job_id(response)
        metrics.RPCS.labels(method=info.rpc, code=code).inc()
        metrics.RPC_SECONDS.labels(method=info.rpc, code=code).observe(seconds)
        self._log(info, code, seconds, _job_state(response) if response is not None else "")

    def _log(self, info: RequestInfo, code: str, seconds: float, state: str) -> None:
        fields = {
            "rpc": info.rpc,
            "code": code,
            "latency_ms": round(seconds * 1000, 2),
            "tenant": info.tenant,
            "job_id": info.job_id,
        }
        if state:
            fields["job_state"] = state
        suppressed = 0
        if code in THROTTLED_CODES:
            allowed, suppressed = self.throttle.allow(code)
            if not allowed:
                return
            if suppressed:
                fields["suppressed"] = suppressed
        level = logging.WARNING if code in SERVER_CODES else logging.INFO
        text = " ".join(f"{k}={v}" for k, v in fields.items() if v != "")
        if state == "REVIEW":
            text += " (held for human review)"
        elif code == "FAILED_PRECONDITION" and info.rpc.endswith("/Submit"):
            text += " (rejected: see the job's error)"
        access_log.log(level, "rpc %s", text, extra={"request": fields})


def _code(context: grpc.aio.ServicerContext, failure: BaseException | None) -> str:
    import asyncio

    code = context.code()
    if code is None:
        if failure is None or isinstance(failure, GeneratorExit):
            return "OK"
        # The client went away (CANCELLED), or the handler raised past the error mapping (UNKNOWN).
        return "CANCELLED" if isinstance(failure, asyncio.CancelledError) else "UNKNOWN"
    if isinstance(code, grpc.StatusCode):
        return code.name
    try:
        return grpc.StatusCode(code).name  # some versions hand back the int value
    except ValueError:
        for status in grpc.StatusCode:
            if status.value[0] == code:
                return status.name
        return str(code)
