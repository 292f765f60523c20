"""Domain errors -> gRPC status with `google.rpc.Status` details (the status mapping, in one place).

Every servicer method is wrapped by `rpc`: it hands the handler the caller's principal (authenticated
and authorized before, by `veriframe.service.server.interceptor.AuthInterceptor`), runs it and turns
`veriframe.service.errors` into status codes with details:
  InvalidArgument    -> INVALID_ARGUMENT + google.rpc.BadRequest(field_violations=[field, description])
  PromptBlocked etc. -> FAILED_PRECONDITION + google.rpc.ErrorInfo(reason, domain, metadata)
  ResourceExhausted  -> RESOURCE_EXHAUSTED + RetryInfo(retry_delay) + ErrorInfo(reason)
  DatabaseUnavailable-> UNAVAILABLE (clients retry)
Anything unexpected is logged and becomes INTERNAL with a generic message (no internals leak).
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
from google.rpc import code_pb2, error_details_pb2, status_pb2

from veriframe.service.errors import (
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)
from veriframe.service.server.context import current_principal

log = logging.getLogger(__name__)
DOMAIN = "veriframe.dev"
STATUS_DETAILS_KEY = "grpc-status-details-bin"


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status(error: ServiceError) -> tuple[grpc.StatusCode, str, status_pb2.Status]:
    code = getattr(grpc.StatusCode, error.code)
    details: list[Any] = []
    if isinstance(error, InvalidArgument):
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=error.field, description=error.description
                    )
                ]
            )
        )
    if isinstance(error, FailedPrecondition):
        details.append(
            error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=error.metadata)
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
        code=getattr(code_pb2, error.code), message=error.message, details=[_pack(d) for d in details]
    )
    return code, error.message, status


async def abort(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    code, message, status = to_status(error)
    await context.abort(code, message, trailing_metadata=((STATUS_DETAILS_KEY, status.SerializeToString()),))


def translate(error: BaseException) -> ServiceError | None:
    """The domain error an exception stands for (None: an unexpected one)."""
    from veriframe.service.db import DatabaseUnavailable

    if isinstance(error, ServiceError):
        return error
    if isinstance(error, DatabaseUnavailable):
        return Unavailable(str(error))
    return None


def rpc(handler: Callable[..., Any]) -> Any:
    """Decorate a servicer method `(self, request, context, principal)`; works for unary and streaming."""
    method = handler.__qualname__

    async def fail(context: grpc.aio.ServicerContext, error: BaseException) -> None:
        translated = translate(error)
        if translated is None:
            log.exception("%s failed", method, exc_info=error)
            translated = ServiceError("internal error (logged on the server)")
        await abort(context, translated)

    if inspect.isasyncgenfunction(handler):

        @functools.wraps(handler)
        async def stream_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in handler(self, request, context, current_principal()):
                    yield item
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception as error:
                await fail(context, error)

        return stream_wrapper

    @functools.wraps(handler)
    async def unary_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(self, request, context, current_principal())
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as error:
            await fail(context, error)

    return unary_wrapper
