"""Domain errors -> gRPC status with `google.rpc.Status` details (the status mapping, in one place).

Every servicer method is wrapped by `rpc`: it hands the handler the caller's principal (authenticated
and authorized before, by `veriframe.service.server.interceptor.AuthInterceptor`), runs it and turns
`veriframe.service.errors` into status codes with details:
  InvalidArgument    -> INVALID_ARGUMENT + google.rpc.BadRequest(field_violations=[field, description])
  PromptBlocked etc. -> FAILED_PRECONDITION + google.rpc.ErrorInfo(reason, domain, metadata)
  ResourceExhausted  -> RESOURCE_EXHAUSTED + RetryInfo(retry_delay) + ErrorInfo(reason)
  DatabaseUnavailable-> UNAVAILABLE (clients retry) with a fixed message: the driver's text, which
                       names the database host and port, goes to the server log only
Anything unexpected is logged and becomes INTERNAL with a generic message (no internals leak).
Before the handler runs, the request is checked against `bounds.check_request` (ids, integers, NUL).
Status messages are clamped to MAX_MESSAGE_CHARS, whatever a handler put in them. Client errors are
noted in the rate-limited rejection log (never with a traceback, a key or the client's values).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from veriframe.service.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)
from veriframe.service.server.bounds import check_request, shown
from veriframe.service.server.context import current_principal
from veriframe.service.server.rejections import REJECTIONS

log = logging.getLogger(__name__)
DOMAIN = "veriframe.dev"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
MAX_MESSAGE_CHARS = 512  # far below the 8-16 KB a client accepts as status metadata
DATABASE_DOWN = "the database is unavailable; retry shortly"


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(error: ServiceError) -> tuple[grpc.StatusCode, str, status_pb2.Status]:
    code = getattr(grpc.StatusCode, error.code)
    message = shown(error.message, MAX_MESSAGE_CHARS)
    details: list[Any] = []
    if isinstance(error, InvalidArgument):
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=shown(error.field), description=shown(error.description, MAX_MESSAGE_CHARS)
                    )
                ]
            )
        )
    if isinstance(error, FailedPrecondition):
        details.append(
            error_details_pb2.ErrorInfo(
                reason=error.reason, domain=DOMAIN, metadata={k: shown(v) for k, v in error.metadata.items()}
            )
        )
    if isinstance(error, ResourceExhausted):
        seconds = max(error.retry_after, 0.001)
        delay = duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(
            error_details_pb2.ErrorInfo(
                reason=error.reason,
                domain=DOMAIN,
                metadata={"retry_after_s": f"{math.ceil(seconds * 1000) / 1000}"},
            )
        )
    status = status_pb2.Status(
        code=getattr(code_pb2, error.code), message=message, details=[_pack(d) for d in details]
    )
    return code, message, status


async def abort(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    code, message, status = to_status(error)
    await context.abort(code, message, trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),))


def translate(error: BaseException) -> ServiceError | None:
    """The domain error an exception stands for (None: an unexpected one)."""
    from veriframe.service.db import DatabaseUnavailable

    if isinstance(error, ServiceError):
        return error
    if isinstance(error, DatabaseUnavailable):
        log.warning("%s", error)  # the operator's detail (host, port, driver text); not the client's
        return Unavailable(DATABASE_DOWN)
    return None


def _rejected_class(error: ServiceError) -> str:
    if isinstance(error, FailedPrecondition):
        return f"{error.code} ({error.reason})"
    return error.code


def note_rejection(error: ServiceError, method: str) -> None:
    """One rate-limited log line per class of client error (server-side failures are logged apart)."""
    if error.code not in ("UNAVAILABLE", "INTERNAL"):
        REJECTIONS.note(_rejected_class(error), method)


def rpc(handler: Callable[..., Any]) -> Any:
    """Decorate a servicer method `(self, request, context, principal)`; works for unary and streaming."""
    method = handler.__qualname__

    async def fail(context: grpc.aio.ServicerContext, error: BaseException) -> None:
        translated = translate(error)
        if translated is None:
            log.exception("%s failed", method, exc_info=error)
            translated = ServiceError("internal error (logged on the server)")
        else:
            note_rejection(translated, handler.__name__)
        await abort(context, translated)

    def checked(request: Any) -> Any:
        if isinstance(request, Message):  # a client stream's messages are checked by its handler
            check_request(request)
        return request

    if inspect.isasyncgenfunction(handler):

        @functools.wraps(handler)
        async def stream_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in handler(self, checked(request), context, current_principal()):
                    yield item
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as error:
                await fail(context, error)

        return stream_wrapper

    @functools.wraps(handler)
    async def unary_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(self, checked(request), context, current_principal())
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as error:
            await fail(context, error)

    return unary_wrapper
