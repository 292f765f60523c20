"""Every RPC x every role over a real server: allowed roles pass auth, the others get PERMISSION_DENIED."""

from __future__ import annotations

import time

import grpc
import pytest

from veriframe.service.api.gen import admin_pb2, generation_pb2, verification_pb2
from veriframe.service.auth import ROLE_MATRIX, ROLES

SERVICES = [
    generation_pb2.DESCRIPTOR.services_by_name["Generation"],
    verification_pb2.DESCRIPTOR.services_by_name["Verification"],
    admin_pb2.DESCRIPTOR.services_by_name["ModerationAdmin"],
]
METHODS = [(f"/{s.full_name}/{m.name}", m) for s in SERVICES for m in s.methods]


def test_every_rpc_has_a_row_in_the_role_matrix() -> None:
    assert {name for name, _ in METHODS} == set(ROLE_MATRIX)
    assert all(roles <= set(ROLES) for roles in ROLE_MATRIX.values())


def _call(channel: grpc.Channel, name: str, method, key: str | None) -> grpc.StatusCode:
    from google.protobuf import message_factory

    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    kwargs = {
        "request_serializer": request_class.SerializeToString,
        "response_deserializer": response_class.FromString,
    }
    metadata = (("authorization", f"Bearer {key}"),) if key is not None else ()
    try:
        if method.client_streaming:
            channel.stream_unary(name, **kwargs)(iter([]), timeout=30, metadata=metadata)
        elif method.server_streaming:
            for _ in channel.unary_stream(name, **kwargs)(request_class(), timeout=30, metadata=metadata):
                pass
        else:
            channel.unary_unary(name, **kwargs)(request_class(), timeout=30, metadata=metadata)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("role", ROLES)
def test_rpc_by_role(live_server, role: str) -> None:
    key = live_server.key(role, "roles")
    passed = set()
    with grpc.insecure_channel(live_server.address) as channel:
        for name, method in METHODS:
            code = _call(channel, name, method, key)
            if role in ROLE_MATRIX[name]:
                assert code not in (
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.UNIMPLEMENTED,
                    grpc.StatusCode.INTERNAL,
                ), (name, role, code)
                passed.add(name)
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, (name, role, code)
    # Exactly the matrix's RPCs for this role got past the interceptor, and every role has some.
    assert passed == {name for name, roles in ROLE_MATRIX.items() if role in roles} and passed


def test_every_rpc_needs_a_key_but_health_does_not(live_server) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(live_server.address) as channel:
        refused = {name: _call(channel, name, method, None) for name, method in METHODS}
        assert set(refused.values()) == {grpc.StatusCode.UNAUTHENTICATED}, refused
        bad = {name: _call(channel, name, method, "vf_000000000000_not-a-key") for name, method in METHODS}
        assert set(bad.values()) == {grpc.StatusCode.UNAUTHENTICATED}, bad
        # Health answers without a key at once; overall SERVING once the worker has loaded its model.
        stub, deadline = health_pb2_grpc.HealthStub(channel), time.monotonic() + 120
        while True:
            health = stub.Check(health_pb2.HealthCheckRequest(), timeout=30)
            if health.status == health_pb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
