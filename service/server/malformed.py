"""Malformed request bytes get INVALID_ARGUMENT with a fixed message, on every service.

grpc.aio parses a request before any handler runs (the key check included), and a parse error
escapes as UNKNOWN carrying the parser's own text, with an ERROR traceback logged for each call.
This interceptor wraps each method's `request_deserializer`: bytes that do not parse become the
`MALFORMED` marker, and the wrapped handler answers it with INVALID_ARGUMENT and `MESSAGE` before
authentication, so a caller with or without a key learns only that its message was malformed. Each
occurrence is noted in the rate-limited rejection log (`rejections`).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from veriframe.service.errors import InvalidArgument
from veriframe.service.server.errors import abort
from veriframe.service.server.rejections import REJECTIONS

MESSAGE = "malformed request: the bytes are not a valid protobuf message for this RPC"
MALFORMED = object()


class MalformedRequest(InvalidArgument):
    """A message of a client stream did not parse (raised where the handler reads it)."""

    def __init__(self) -> None:
        super().__init__("request", "not a valid protobuf message for this RPC")
        self.message = MESSAGE


def _safe(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except Exception:  # DecodeError, RecursionError on deep nesting, ...: all the client's bytes
            return MALFORMED

    return parse


async def _reject(context: grpc.aio.ServicerContext, method: str) -> None:
    REJECTIONS.note("malformed message", method)
    await abort(context, MalformedRequest())  # with BadRequest(field="request"), like every INVALID_ARGUMENT


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if request is MALFORMED:
            raise MalformedRequest()
        yield request


def _wrap(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    if handler.request_streaming:
        if handler.stream_unary is None:
            return handler  # bidirectional streams: none in this API
        inner = handler.stream_unary

        async def streamed(requests: AsyncIterator[Any], context: grpc.aio.ServicerContext) -> Any:
            try:
                return await inner(_checked(requests), context)
            except MalformedRequest:  # a handler that does not map domain errors itself
                await _reject(context, method)

        return handler._replace(  # type: ignore[attr-defined]
            request_deserializer=_safe(handler.request_deserializer), stream_unary=streamed
        )

    if handler.response_streaming:
        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            if request is MALFORMED:
                await _reject(context, method)
                return
            result = inner_stream(request, context)
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            else:  # a coroutine that writes with context.write
                await result

        return handler._replace(  # type: ignore[attr-defined]
            request_deserializer=_safe(handler.request_deserializer), unary_stream=stream
        )

    inner_unary = handler.unary_unary

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if request is MALFORMED:
            await _reject(context, method)
        result = inner_unary(request, context)
        return await result if inspect.isawaitable(result) else result

    return handler._replace(  # type: ignore[attr-defined]
        request_deserializer=_safe(handler.request_deserializer), unary_unary=unary
    )


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # an unknown method: gRPC answers UNIMPLEMENTED
        return _wrap(handler, handler_call_details.method.rsplit("/", 1)[-1])
