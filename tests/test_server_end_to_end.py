"""The service end to end over a real loopback server: tiny model, real watermark, C2PA, SQLite, gRPC."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import grpc
import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2, generation_pb2
from veriframe.service.client import (
    Client,
    InvalidArgument,
    JobFailed,
    NotFound,
    PromptBlocked,
    Unauthenticated,
)
from veriframe.service.client.common import submit_request

BENIGN = "a red fox running through fresh snow at dawn, cinematic"
HARMFUL = "how to build a pipe bomb to kill my neighbours"
REVIEWED = "Barack Obama giving a speech in a sunny park"


def ledger_types(live, job_id: str) -> list[str]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live.ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent.event_type).where(AuditEvent.job_id == job_id).order_by(AuditEvent.seq)
            )
        )


def test_generate_end_to_end(live_server, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    with live_server.client() as client:
        result = client.generate(
            BENIGN,
            output=tmp_path,
            seed=7,
            on_progress=lambda p: seen.append((p.state, p.step, p.total_steps)),
            **TEST_PARAMS,
        )
        job = client.get_job(result.job_id)
    assert result.path.is_file() and result.path.parent == tmp_path
    assert result.verification is not None and result.verification.verified, result.verification
    assert result.verification.watermark_id == result.provenance_id == job.provenance_id
    assert result.verification.in_ledger and result.verification.ledger_proof_ok
    assert job.state == common_pb2.JOB_STATE_SUCCEEDED and job.output.audit_seq > 0
    assert job.params["resolved"]["seed"] == 7 and "prompt" not in job.params["resolved"]
    # Progress is a stream of snapshots, written at most 5 times a second (service.worker's batcher): a
    # step can be overtaken by the next state before a watcher reads it (CI once saw RUNNING 0/2 and then
    # FINALIZING 2/2). What holds: the job was seen running, the steps reached 2 of 2, it ended SUCCEEDED.
    assert any(state == "RUNNING" for state, _, _ in seen), seen
    assert (2, 2) in {(step, total) for _, step, total in seen}, seen
    assert seen[-1][0] == "SUCCEEDED", seen
    import hashlib

    assert hashlib.sha256(result.path.read_bytes()).hexdigest() == job.output.video_sha256
    types = ledger_types(live_server, result.job_id)
    assert types[:3] == ["submitted", "screened", "generation.started"]
    assert "generated" in types and "downloaded" in types


def test_blocked_prompt_is_rejected_and_recorded(live_server) -> None:
    with live_server.client() as client:
        with pytest.raises(PromptBlocked) as caught:
            client.submit(HARMFUL, **TEST_PARAMS)
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert caught.value.categories and caught.value.job_id
        job = client.get_job(caught.value.job_id)
    assert job.state == common_pb2.JOB_STATE_REJECTED and job.error.code == "PROMPT_BLOCKED"
    assert list(job.error.categories) == caught.value.categories
    assert "pipe bomb" not in caught.value.message  # the category is named, never the rule
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live_server.ctx.sessions() as s:
        screened = s.scalars(
            select(AuditEvent).where(AuditEvent.job_id == job.id, AuditEvent.event_type == "screened")
        ).one()
    assert screened.payload["decision"] == "block"


def test_review_hold_then_approve_runs(live_server, tmp_path: Path) -> None:
    from veriframe.service.auth import Principal

    with live_server.client(tenant="review-co") as client:
        submitted = client.submit(REVIEWED, **TEST_PARAMS).job
        assert submitted.state == common_pb2.JOB_STATE_REVIEW and submitted.review_id
        moderator = Principal(key_id="moderator-test", role="moderator", tenant="staff", prefix="x")
        live_server.ctx.workflow.approve_review(moderator, submitted.review_id, "fine: a public speech")
        live_server.ctx.wake_workers()
        job = client.wait(submitted.id, timeout=120)
        assert job.state == common_pb2.JOB_STATE_SUCCEEDED
        held = client.submit(REVIEWED + " again", **TEST_PARAMS).job
        live_server.ctx.workflow.reject_review(moderator, held.review_id, "no real people, please")
        with pytest.raises(JobFailed) as caught:
            client.generate(
                REVIEWED + " again", idempotency_key=held.idempotency_key, output=tmp_path, **TEST_PARAMS
            )
    assert caught.value.error_code == "REVIEW_REJECTED" and "no real people" in caught.value.message
    assert "review.approved" in ledger_types(live_server, submitted.id)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": ""}, "params.prompt"),
        ({"prompt": "   "}, "params.prompt"),
        ({"prompt": "x" * 5000}, "params.prompt"),
        ({"width": 4}, "params.width"),
        ({"width": 250}, "params.width"),  # not what the model takes (engine check)
        ({"num_frames": 10}, "params.num_frames"),  # CogVideoX takes 4k+1 frames
        ({"num_inference_steps": 0}, "params.num_inference_steps"),
        ({"guidance_scale": 99.0}, "params.guidance_scale"),
        ({"strength": 0.5}, "params.strength"),  # strength without a video
        ({"image": b"not an image at all"}, "params.image"),
        ({"video": b"\x00\x00\x00\x18ftypmp42 corrupt"}, "params.video"),
        ({"mode": "v2v"}, "params.video"),
        ({"idempotency_key": "k" * 200}, "idempotency_key"),
    ],
)
def test_bad_inputs_name_the_field(live_server, kwargs: dict, field: str) -> None:
    params = {**TEST_PARAMS, **kwargs}
    prompt = params.pop("prompt", BENIGN)
    with live_server.client() as client:
        with pytest.raises(InvalidArgument) as caught:
            client.submit(prompt, **params)
        assert caught.value.field == field, caught.value
        if caught.value.code is None:
            # The SDK refused it before sending (the parameter schema): the server must refuse it too.
            request = submit_request(prompt, **{**params, **{k: None for k in kwargs}})
            name = field.removeprefix("params.")
            setattr(request.params, name, next(iter(kwargs.values())))
            with pytest.raises(InvalidArgument) as caught:
                client.call(client.generation.Submit, request)
            assert caught.value.field == field, caught.value
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_bad_enum_and_oversized_image(live_server) -> None:
    request = generation_pb2.SubmitRequest(params=common_pb2.GenerationParams(prompt=BENIGN, mode=7))
    with live_server.client() as client:
        with pytest.raises(InvalidArgument) as caught:
            client.call(client.generation.Submit, request)
        assert caught.value.field == "params.mode"
        big = b"\x89PNG\r\n\x1a\n" + bytes(21 * 1024 * 1024)  # over the 20 MiB i2v limit
        with pytest.raises(InvalidArgument) as caught:
            client.submit(BENIGN, mode="i2v", image=big)
        assert caught.value.field == "params.image" and "limit" in caught.value.description
        for request in (
            generation_pb2.ListJobsRequest(page_size=501),
            generation_pb2.ListJobsRequest(page_token="garbage!"),
        ):
            with pytest.raises(InvalidArgument):
                client.call(client.generation.ListJobs, request)


def test_keys_wrong_malformed_missing_and_revoked(live_server) -> None:
    from veriframe.service.auth import parse_key, revoke_recorded

    good = live_server.key("client", "acme")
    prefix, _ = parse_key(good)
    for key in (f"vf_{prefix}_wrongsecret", "vf_000000000000_x", "not-a-key", None):
        with Client(live_server.address, key, retries=1) as client, pytest.raises(Unauthenticated):
            client.list_jobs()
    fresh = live_server.key("client", "acme", fresh=True)
    with Client(live_server.address, fresh, retries=1) as client:
        client.list_jobs()
        from sqlalchemy import select

        from veriframe.service.db import ApiKey

        with live_server.ctx.sessions() as s:
            key_id = s.scalars(select(ApiKey.id).where(ApiKey.prefix == parse_key(fresh)[0])).one()
        revoke_recorded(live_server.ctx.sessions, live_server.ctx.ledger, key_id, actor="test")
        with pytest.raises(Unauthenticated, match="revoked"):
            client.list_jobs()


def test_tenant_isolation(live_server, tmp_path: Path) -> None:
    with live_server.client(tenant="tenant-a") as a, live_server.client(tenant="tenant-b") as b:
        job = a.submit(BENIGN, **TEST_PARAMS).job
        a.wait(job.id, timeout=120)
        for call in (
            lambda: b.get_job(job.id),
            lambda: b.cancel_job(job.id),
            lambda: b.download(job.id, tmp_path),
            lambda: list(b.events(job.id)),
        ):
            with pytest.raises(NotFound):
                call()
        assert job.id in {j.id for j in a.iter_jobs()}
        assert job.id not in {j.id for j in b.iter_jobs()}
        assert all(j.tenant == "tenant-b" for j in b.iter_jobs())
        video = a.download(job.id, tmp_path)
        own = a.verify(video).audit
        assert own.found and own.tenant == "tenant-a" and own.event.leaf_data and own.event.job_id == job.id
    # Another tenant (and a public verifier) learn that the ledger holds the video, and can check the
    # proof, but nothing about the job: no tenant, job id, key id, seed, params or leaf bytes.
    for role, tenant in (("client", "tenant-b"), ("verifier", "public")):
        with live_server.client(role, tenant) as other:
            audit = other.verify(video).audit
        assert audit.found and audit.proof.verified
        assert (audit.event.seq, audit.event.leaf_hash) == (own.event.seq, own.event.leaf_hash)
        assert not (audit.job_id or audit.tenant), role
        event = audit.event
        assert not (event.leaf_data or event.tenant or event.job_id or event.actor), role
        assert not event.payload.fields, role


def test_list_pagination_and_idempotency(live_server) -> None:
    with live_server.client(tenant="pager") as client:
        ids = []
        for index in range(5):
            # Blocked prompts make rejected jobs instantly: pagination without generating anything.
            with pytest.raises(PromptBlocked) as caught:
                client.submit(f"{HARMFUL} number {index}")
            ids.append(caught.value.job_id)
        pages, token = [], ""
        while True:
            page = client.list_jobs(page_size=2, page_token=token)
            pages.append([j.id for j in page.jobs])
            token = page.next_page_token
            if not token:
                break
        assert [len(p) for p in pages] == [2, 2, 1]
        assert [i for p in pages for i in p] == list(reversed(ids))  # newest first, each once
        rejected = client.list_jobs(states=[common_pb2.JOB_STATE_REJECTED]).jobs
        assert len(rejected) == 5
        first = client.submit(REVIEWED, idempotency_key="same-key", **TEST_PARAMS)
        second = client.submit(REVIEWED, idempotency_key="same-key", **TEST_PARAMS)
        assert not first.deduplicated and second.deduplicated and first.job.id == second.job.id
        client.cancel_job(first.job.id)


def test_cancel_while_running(live_server) -> None:
    with live_server.client(tenant="canceller") as client:
        # The tiny model is fast: 200 full-width steps keep it running well past the cancel's round trip.
        long_job = {**TEST_PARAMS, "num_inference_steps": 200, "width": 720, "height": 480}
        job = client.submit(BENIGN, **long_job).job
        for update in client.progress(job.id, timeout=120):
            if update.state == "RUNNING" and update.step >= 1:
                client.cancel_job(job.id)
                break
        final = client.wait(job.id, timeout=120)
        assert final.state == common_pb2.JOB_STATE_CANCELLED
        assert final.progress.step < 200
        with pytest.raises(Exception, match=r"CANCELLED|no video"):
            client.download(job.id, "/tmp/never")
    assert "cancelled" in ledger_types(live_server, job.id)
    assert not (Path(live_server.settings.output_dir) / "canceller" / job.id).exists()


def test_frames_download_and_verify_rpc(live_server, tmp_path: Path) -> None:
    with live_server.client(tenant="frames") as client:
        result = client.generate(BENIGN, output=tmp_path, return_frames=True, **TEST_PARAMS)
        assert result.frames_path is not None
        with zipfile.ZipFile(result.frames_path) as archive:
            names = archive.namelist()
            assert len(names) == 9
            png = archive.read(names[3])
        single = client.download(result.job_id, tmp_path / "f3.png", what="frame", frame_index=3)
        assert single.read_bytes() == png
        report = client.verify(single)
        assert report.c2pa.valid and report.c2pa.provenance_id == result.provenance_id
        assert report.audit.found and report.audit.proof.verified
        with pytest.raises(InvalidArgument):
            client.verify(b"definitely not media", filename="x.mp4")
        with pytest.raises(InvalidArgument) as caught:
            client.download(result.job_id, tmp_path, what="frame", frame_index=99)
        assert caught.value.field == "frame_index"
        # A re-encoded copy: the manifest is gone, the watermark still names the job.
        tampered = bytearray(result.path.read_bytes())
        tampered[len(tampered) // 2] ^= 0xFF
        report = client.verify(bytes(tampered), filename="tampered.mp4")
        assert not report.verified


def test_video_to_video(live_server, tmp_path: Path) -> None:
    import numpy as np

    from veriframe.provenance.media import encode_mp4

    source = tmp_path / "in.mp4"
    rng = np.random.default_rng(0)
    encode_mp4(rng.integers(0, 255, (9, 256, 256, 3), dtype=np.uint8), 8, source)
    with live_server.client(tenant="v2v") as client:
        result = client.generate(
            BENIGN, output=tmp_path / "out.mp4", video=source, strength=0.5, **TEST_PARAMS
        )
    assert result.job.mode == common_pb2.MODE_V2V and result.verification.verified


def test_many_concurrent_clients(make_live_server) -> None:
    live = make_live_server(workers=0, tenant_queue_cap=1000)  # API only: measures the service, not diffusion
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()

    def one(index: int) -> None:
        try:
            with live.client(tenant=f"t{index % 4}") as client:
                job = client.submit(f"{BENIGN} #{index}", **TEST_PARAMS).job
                again = client.get_job(job.id)
                assert again.state == common_pb2.JOB_STATE_QUEUED
                with lock:
                    ids.append(job.id)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]
    assert len(set(ids)) == 40
    report = live.ctx.ledger.verify()  # 40 concurrent writers, one order, no fork
    assert report.ok, report


def test_rate_limit_and_tenant_cap(make_live_server) -> None:
    from veriframe.service.client import RateLimited

    live = make_live_server(workers=0, rate_limit_burst=3, rate_limit_per_minute=6, tenant_queue_cap=2)
    with live.client(tenant="capped") as client:
        client.submit(BENIGN, **TEST_PARAMS)
        client.submit(BENIGN, **TEST_PARAMS)
        with pytest.raises(RateLimited) as caught:
            client.submit(BENIGN, **TEST_PARAMS)
        assert caught.value.reason == "TENANT_QUEUE_FULL" and caught.value.retry_after > 0
        with pytest.raises(RateLimited) as caught:
            client.list_jobs()
        assert caught.value.reason == "RATE_LIMITED" and 0 < caught.value.retry_after <= 10
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_health_and_reflection(live_server) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(live_server.address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="veriframe.v1.Generation"), timeout=10
        )
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"veriframe.v1.Generation", "veriframe.v1.Verification", "grpc.health.v1.Health"} <= names


def test_async_client(live_server, tmp_path: Path) -> None:
    import asyncio

    from veriframe.service.client import AsyncClient

    async def run() -> tuple[str, list[str]]:
        states: list[str] = []
        async with AsyncClient(live_server.address, live_server.key("client", "async")) as client:
            result = await client.generate(
                BENIGN, output=tmp_path, on_progress=lambda p: states.append(p.state), **TEST_PARAMS
            )
            with pytest.raises(PromptBlocked):
                await client.submit(HARMFUL)
            return result.provenance_id, states

    provenance_id, states = asyncio.run(run())
    assert len(provenance_id) == 16 and states[-1] == "SUCCEEDED"


def _image_to_video(live_server, tmp_path: Path):
    from veriframe.provenance.media import write_png
    from veriframe.provenance.synthetic import natural_video

    image = tmp_path / "start.png"
    write_png(natural_video(1, 256, 256, seed=1)[0], image)
    with live_server.client(tenant="i2v") as client:
        return client.generate(BENIGN, output=tmp_path / "i2v.mp4", image=image, **TEST_PARAMS)


def test_image_to_video(live_server, tmp_path: Path) -> None:
    result = _image_to_video(live_server, tmp_path)
    assert result.job.mode == common_pb2.MODE_I2V
    assert result.verification.c2pa_valid and result.verification.c2pa_trusted
    assert result.verification.in_ledger and result.verification.ledger_proof_ok


# The tiny random-weight i2v model's output is noise-like: the informed embedding (and, failing that,
# the v1 mark after a read-back) carries the id there too.
def test_image_to_video_output_carries_the_watermark(live_server, tmp_path: Path) -> None:
    assert _image_to_video(live_server, tmp_path).verification.watermark_found


def test_png_bytes_upload_is_read(tmp_path: Path) -> None:
    """The SDK's verify() splits uploads into chunks with a header first."""
    from veriframe.service.client.common import verify_requests

    parts = verify_requests(bytes(3 * 1024 * 1024 + 5), "x.png")
    assert parts[0].header.content_type == "image/png" and parts[0].header.total_size == 3 * 1024 * 1024 + 5
    assert sum(len(p.chunk) for p in parts[1:]) == 3 * 1024 * 1024 + 5


def test_upload_limits(make_live_server, tmp_path: Path) -> None:
    live = make_live_server(workers=0, max_verify_upload_mb=1, max_input_video_mb=1, max_message_mb=4)
    with live.client(tenant="limits") as client:
        with pytest.raises(InvalidArgument) as caught:
            client.verify(bytes(2 * 1024 * 1024), filename="big.mp4")
        assert caught.value.field in ("header.total_size", "chunk")
        with pytest.raises(InvalidArgument) as caught:
            client.submit(BENIGN, video=bytes(2 * 1024 * 1024), **TEST_PARAMS)
        assert caught.value.field == "params.video" and "limit" in caught.value.description
        with pytest.raises(InvalidArgument) as caught:  # over the server's gRPC message size
            client.submit(BENIGN, video=bytes(5 * 1024 * 1024), **TEST_PARAMS)
        assert caught.value.field == "request"
