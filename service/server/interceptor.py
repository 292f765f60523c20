"""The auth server interceptor: every Veriframe RPC is authenticated and authorized before its handler.

It reads the API key from the `authorization` metadata, looks the key up (in a thread: a database
read), checks `veriframe.service.auth.ROLE_MATRIX` and the key's rate limit, and hands the caller's
`Principal` to the handler through a context variable (`server.context.current_principal`). A
refused call ends here with UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED and its status
details. Health checks and reflection are not Veriframe RPCs and pass untouched.

Requests with a missing, malformed, unknown or revoked key are rate-limited per client address
(`Authenticator.failures`): an address past its budget is answered RESOURCE_EXHAUSTED before its key
is looked up. Each refusal is one rate-limited line in the rejection log, never the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from veriframe.service.auth import Authenticator, key_from_metadata
from veriframe.service.errors import ServiceError, Unauthenticated
from veriframe.service.observability import request_log
from veriframe.service.server.context import set_principal
from veriframe.service.server.errors import abort, note_rejection, translate

PROTECTED = "/veriframe.v1."


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not details.method.startswith(PROTECTED):
            return handler
        return _guarded(handler, details.method, self._authenticate)

    async def _authenticate(self, context: grpc.aio.ServicerContext, method: str) -> bool:
        """Set the principal for this call; False (the call aborted with its status) when refused."""
        address = _peer_address(context)
        try:
            self._auth.failures.check(address)
            try:
                key = key_from_metadata(context.invocation_metadata())
                principal = await asyncio.to_thread(self._auth.authenticate, key)
            except Unauthenticated:
                self._auth.failures.record(address)
                raise
            request_log.note(tenant=principal.tenant)  # the request line names the caller's tenant
            self._auth.authorize(principal, method)
        except Exception as error:
            refused = translate(error)
            if refused is not None:
                note_rejection(refused, method.rsplit("/", 1)[-1])
            await abort(context, refused or ServiceError("internal error (logged on the server)"))
            return False
        set_principal(principal)
        return True


def _peer_address(context: grpc.aio.ServicerContext) -> str:
    """The client's address without its port ("ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7")."""
    peer = context.peer() or ""
    return peer.rsplit(":", 1)[0] if peer.count(":") >= 2 else peer


def _guarded(handler: grpc.RpcMethodHandler, method: str, authenticate: Any) -> grpc.RpcMethodHandler:
    """The same handler, authenticating first (unary or streaming responses alike)."""
    codec = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary or handler.stream_unary:
        behaviour = handler.unary_unary or handler.stream_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if await authenticate(context, method):
                return await behaviour(request, context)
            return None

        make = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary
            else grpc.stream_unary_rpc_method_handler
        )
        return make(unary, **codec)
    behaviour = handler.unary_stream or handler.stream_stream

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if await authenticate(context, method):
            async for item in behaviour(request, context):
                yield item

    make = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream
        else grpc.stream_stream_rpc_method_handler
    )
    return make(streaming, **codec)
