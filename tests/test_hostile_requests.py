"""Each hostile-input defect of the red-team pass, reproduced against a real server on loopback.

Malformed protobuf bytes, out-of-range timestamps, unknown enum values, integers past 2^63, 50-digit
page tokens, deeply nested JSON, 10,000-character ids, floods of invalid keys, a database outage, a
huge video-to-video input, the SQLite file's permissions, and the rejection log's rate limit.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2, status_pb2

from tests.fixtures import fuzz
from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import admin_pb2, generation_pb2
from veriframe.service.server.malformed import MESSAGE

BENIGN = "a paper boat drifting down a rain gutter"


@pytest.fixture(scope="module")
def api_server(make_live_server):
    return make_live_server(workers=0, auth_failures_per_minute=0)


def _call(address: str, path: str, payload: bytes, key: str | None) -> grpc.RpcError | bytes:
    metadata = (("authorization", f"Bearer {key}"),) if key else None
    with grpc.insecure_channel(address) as channel:
        method = channel.unary_unary(path)
        try:
            return method(payload, timeout=20, metadata=metadata)
        except grpc.RpcError as error:
            return error


def _field(error: grpc.RpcError) -> str:
    for name, value in error.trailing_metadata() or ():
        if name == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad = error_details_pb2.BadRequest()
                if detail.Unpack(bad):
                    return bad.field_violations[0].field
    return ""


def _reason(error: grpc.RpcError) -> str:
    for name, value in error.trailing_metadata() or ():
        if name == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def _malformed_for(message_class: type) -> list[bytes]:
    """The catalogue's payloads this message type's parser refuses (unknown fields are legal bytes)."""
    refused = []
    for payload in fuzz.MALFORMED:
        try:
            message_class.FromString(payload)
        except Exception:
            refused.append(payload)
    return refused


def test_malformed_bytes_get_a_fixed_invalid_argument_and_one_log_line(
    api_server, caplog, monkeypatch
) -> None:
    from veriframe.service.server import malformed
    from veriframe.service.server.rejections import RejectionLog

    monkeypatch.setattr(malformed, "REJECTIONS", RejectionLog())  # a fresh window for this test
    caplog.set_level(logging.INFO)
    key = api_server.key("admin")
    payloads = [p for p in _malformed_for(generation_pb2.GetJobRequest)
                if p in _malformed_for(admin_pb2.ListApiKeysRequest)]
    assert len(payloads) >= 6
    for index, payload in enumerate(payloads * 4):
        for method in ("/veriframe.v1.Generation/GetJob", "/veriframe.v1.ModerationAdmin/ListApiKeys"):
            error = _call(api_server.address, method, payload, key if index % 2 else None)
            assert isinstance(error, grpc.RpcError)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (payload, error.details())
            assert error.details() == MESSAGE  # the same for every caller: no parser text, no type name
    lines = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "request_", "field"),
    [
        ("/veriframe.v1.ModerationAdmin/SearchAudit",
         admin_pb2.SearchAuditRequest(start_time={"seconds": 2**62}), "start_time"),
        ("/veriframe.v1.ModerationAdmin/GetStats",
         admin_pb2.GetStatsRequest(end_time={"seconds": 0, "nanos": -1}), "end_time"),
        ("/veriframe.v1.Generation/ListJobs", generation_pb2.ListJobsRequest(states=[99]), "states"),
        ("/veriframe.v1.ModerationAdmin/GetAuditEvent", admin_pb2.GetAuditEventRequest(seq=2**63), "seq"),
        ("/veriframe.v1.ModerationAdmin/GetInclusionProof",
         admin_pb2.GetInclusionProofRequest(seq=1, tree_size=2**64 - 1), "tree_size"),
        ("/veriframe.v1.ModerationAdmin/ListApiKeys", admin_pb2.ListApiKeysRequest(page_token="9" * 50),
         "page_token"),
        ("/veriframe.v1.ModerationAdmin/GetPolicy", admin_pb2.GetPolicyRequest(version=2**32 - 1), "version"),
        ("/veriframe.v1.ModerationAdmin/UpdatePolicy",
         admin_pb2.UpdatePolicyRequest(document_json='{"a":' * 3000 + "1" + "}" * 3000), "document_json"),
        ("/veriframe.v1.ModerationAdmin/DryRunModeration",
         admin_pb2.DryRunModerationRequest(prompt=BENIGN, policy_document_json="[" * 100_000 + "]" * 100_000),
         "policy_document_json"),
        ("/veriframe.v1.ModerationAdmin/GetReview",
         admin_pb2.GetReviewRequest(review_id="a\x00b"), "review_id"),
    ],
)
def test_out_of_range_values_are_invalid_argument_naming_the_field(
    api_server, path: str, request_, field: str
) -> None:
    role = "client" if "Generation" in path else "admin"
    error = _call(api_server.address, path, request_.SerializeToString(), api_server.key(role))
    assert isinstance(error, grpc.RpcError)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert _field(error) == field


def test_every_identifier_is_bounded_and_never_echoed_whole(api_server) -> None:
    """A 10,000-character id in every RPC that takes one: INVALID_ARGUMENT with a short message (it was
    copied into the status, past the client's metadata limit: RESOURCE_EXHAUSTED on the client)."""
    from google.protobuf import message_factory

    checked = []
    for method in fuzz.methods():
        ids = [f for f in method.input.fields if f.name.endswith("_id") and f.type == f.TYPE_STRING]
        if not ids or method.client_streaming:
            continue
        request = message_factory.GetMessageClass(method.input)()
        setattr(request, ids[0].name, "x" * 10_000)
        role = "client" if "Generation" in method.path else "admin"
        channel_call = _call if not method.server_streaming else _stream_call
        key = api_server.key(role)
        error = channel_call(api_server.address, method.path, request.SerializeToString(), key)
        assert isinstance(error, grpc.RpcError), method.path
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (method.path, error.details()[:80])
        assert _field(error) == ids[0].name and len(error.details()) < 300
        checked.append(method.name)
    assert len(checked) >= 8, checked


def _stream_call(address: str, path: str, payload: bytes, key: str | None) -> grpc.RpcError | None:
    with grpc.insecure_channel(address) as channel:
        try:
            metadata = (("authorization", f"Bearer {key}"),)
            list(channel.unary_stream(path)(payload, timeout=20, metadata=metadata))
        except grpc.RpcError as error:
            return error
    return None


def test_invalid_keys_are_rate_limited_per_address(make_live_server) -> None:
    live = make_live_server(workers=0, auth_failures_per_minute=60, auth_failure_burst=5)
    payload = generation_pb2.GetJobRequest(job_id="00000000-0000-0000-0000-000000000000").SerializeToString()
    path = "/veriframe.v1.Generation/GetJob"
    codes = [_call(live.address, path, payload, "vf_000000000000_nope").code() for _ in range(8)]
    assert codes[:5] == [grpc.StatusCode.UNAUTHENTICATED] * 5
    limited = _call(live.address, path, payload, "vf_000000000000_nope")
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _reason(limited) == "INVALID_KEY_RATE_LIMITED"
    # While the address is blocked, even a valid key waits: the limiter runs before any key lookup.
    assert _call(live.address, path, payload, live.key()).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_database_outage_names_no_host_or_port(make_live_server, tmp_path) -> None:
    from veriframe.service.client import Client, Unavailable
    from veriframe.service.db import make_engine

    live = make_live_server(workers=0)
    key = live.key()
    sessions = live.ctx.sessions
    healthy = sessions.kw["bind"]
    # The database goes away: every connection now fails in the real driver (nothing listens on :9).
    sessions.configure(bind=make_engine("postgresql+psycopg://veriframe@127.0.0.1:9/veriframe"))
    try:
        with Client(live.address, key, retries=1) as client, pytest.raises(Unavailable) as caught:
            client.get_job("00000000-0000-0000-0000-000000000000")
    finally:
        sessions.configure(bind=healthy)
    message = caught.value.message
    assert "unavailable" in message
    assert "127.0.0.1" not in message and "9" not in message and "port" not in message, message


def test_huge_video_to_video_input_is_refused_from_its_header(api_server) -> None:
    from veriframe.provenance.media import encode_mp4
    from veriframe.service.client import Client, InvalidArgument

    path = Path(f"/tmp/veriframe-huge-{os.getpid()}.mp4")
    try:
        encode_mp4(np.zeros((2, 3000, 3000, 3), dtype=np.uint8), 8, path, preset="ultrafast")
        data = io.BytesIO(path.read_bytes()).getvalue()
    finally:
        path.unlink(missing_ok=True)
    client = Client(api_server.address, api_server.key(), retries=1)
    with client, pytest.raises(InvalidArgument) as caught:
        client.submit(BENIGN, video=data, strength=0.5, **TEST_PARAMS)
    assert caught.value.field == "params.video"
    assert "3000x3000" in caught.value.message and "limit" in caught.value.message


def test_sqlite_database_and_its_journal_files_are_private(tmp_path) -> None:
    from veriframe.service.db import make_engine, upgrade

    old = os.umask(0o022)  # the usual default, under which files come out 0644
    try:
        url = f"sqlite:///{tmp_path / 'private.db'}"
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT count(*) FROM jobs").scalar()
            files = [tmp_path / name for name in ("private.db", "private.db-wal", "private.db-shm")]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()}
        engine.dispose()
    finally:
        os.umask(old)
    assert "private.db" in modes and len(modes) >= 2, modes
    assert all(mode == 0o600 for mode in modes.values()), {k: oct(v) for k, v in modes.items()}


def test_rejection_log_folds_a_flood_into_one_line_per_window(caplog) -> None:
    from veriframe.service.server.rejections import RejectionLog

    now = [0.0]
    rejections = RejectionLog(logging.getLogger("test.rejected"), window=60, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="test.rejected")
    for _ in range(1000):
        rejections.note("UNAUTHENTICATED", "GetJob")
    rejections.note("NOT_FOUND", "GetJob")
    now[0] = 61.0
    rejections.note("UNAUTHENTICATED", "GetJob")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert "999 more" in messages[-1]
