"""Every RPC x every role over a real server: allowed roles pass auth, the others get PERMISSION_DENIED."""

from __future__ import annotations

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


def _call(channel: grpc.Channel, name: str, method, key: str) -> grpc.StatusCode:
    from google.protobuf import message_factory

    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    kwargs = {
        "request_serializer": request_class.SerializeToString,
        "response_deserializer": response_class.FromString,
    }
    metadata = (("authorization", f"Bearer {key}"),)
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
    checked = 0
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
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, (name, role, code)
            checked += 1
    assert checked == len(METHODS)
