"""Review findings on the service: model limits at Submit, model-load failures, startup refusals,
idempotency fingerprints, input cleanup, retention, SDK typed errors, no internals in client errors."""

from __future__ import annotations

import io
import shutil
import time
from datetime import timedelta
from pathlib import Path

import grpc
import numpy as np
import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.client import Client, InvalidArgument, Unavailable

BENIGN = "a red fox running through fresh snow at dawn, cinematic"


def _mp4(frames: int, width: int, height: int) -> bytes:
    from veriframe.provenance.media import encode_mp4

    buffer = io.BytesIO()
    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (frames, height, width, 3), dtype=np.uint8)
    path = Path(f"/tmp/veriframe-test-{frames}-{width}x{height}-{time.monotonic_ns()}.mp4")
    try:
        encode_mp4(video, 8, path, preset="ultrafast")
        buffer.write(path.read_bytes())
    finally:
        path.unlink(missing_ok=True)
    return buffer.getvalue()


def _health(address: str, service: str = "veriframe.v1.Generation") -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10
        ).status


@pytest.fixture(scope="module")
def api_only(make_live_server):
    """No worker, so nothing is loaded: Submit checks the model from its configs and tokenizer."""
    return make_live_server(workers=0, tenant_queue_cap=50)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"num_frames": 10}, "params.num_frames", "8N+1"),
        ({"width": 100}, "params.width", "multiple of 16"),
        ({"width": 64, "height": 64}, "params.width", "watermark"),  # the tiny model takes 64x64
        ({"prompt": "snow " * 300}, "params.prompt", "226"),
    ],
)
def test_api_only_server_checks_the_model_at_submit(api_only, kwargs, field, words) -> None:
    params = {**TEST_PARAMS, **kwargs}
    prompt = params.pop("prompt", BENIGN)
    with api_only.client() as client, pytest.raises(InvalidArgument) as caught:
        client.submit(prompt, **params)
    assert caught.value.field == field and words in caught.value.description, caught.value


def test_v2v_input_is_capped_at_what_the_model_takes(api_only) -> None:
    with api_only.client() as client:
        with pytest.raises(InvalidArgument) as caught:  # the model takes at most 49 frames
            client.submit(BENIGN, mode="v2v", video=_mp4(57, 64, 64), **{**TEST_PARAMS, "num_frames": None})
        assert caught.value.field == "params.video" and "49-frame" in caught.value.description
        assert "/" not in caught.value.description  # no server path
        ok = client.submit(BENIGN, mode="v2v", video=_mp4(9, 256, 256), **{**TEST_PARAMS, "num_frames": None})
        assert ok.job.id
        client.cancel_job(ok.job.id)
    # The upload was stored for the worker, and deleted when the job was cancelled.
    assert not list((Path(api_only.settings.output_dir) / "inputs").glob(f"{ok.job.id}*"))


def test_idempotency_key_reused_for_another_request_is_refused(api_only) -> None:
    with api_only.client(tenant="idem") as client:
        first = client.submit(BENIGN, idempotency_key="k-1", **TEST_PARAMS)
        again = client.submit(BENIGN, idempotency_key="k-1", **TEST_PARAMS)
        assert again.deduplicated and again.job.id == first.job.id
        for changed in ({"prompt": BENIGN + " at dusk"}, {"seed": 99}, {"width": 512}):
            params = {**TEST_PARAMS, **changed}
            prompt = params.pop("prompt", BENIGN)
            with pytest.raises(InvalidArgument) as caught:
                client.submit(prompt, idempotency_key="k-1", **params)
            assert caught.value.field == "idempotency_key" and first.job.id in caught.value.description
        assert "request_sha256" not in client.get_job(first.job.id).params  # bookkeeping stays inside
        client.cancel_job(first.job.id)


def test_sdk_raises_typed_errors_for_bad_values(api_only) -> None:
    with api_only.client(tenant="sdk") as client:
        with pytest.raises(InvalidArgument) as caught:
            client.submit(BENIGN, seed=-5)
        assert caught.value.field == "params.seed"
        with pytest.raises(InvalidArgument) as caught:
            client.list_jobs(page_size=-1)
        assert caught.value.field == "page_size"
        with pytest.raises(InvalidArgument):
            client.list_jobs(page_size=501)
        for call in (client.get_job, client.cancel_job, lambda job_id: list(client.events(job_id))):
            with pytest.raises(InvalidArgument) as caught:
                call("x" * (2 * 1024 * 1024))
            assert caught.value.field == "job_id" and len(caught.value.message) < 200
    # A request larger than the channel's limit is the caller's mistake, not a rate limit.
    with Client(api_only.address, api_only.key("client", "sdk"), retries=1, max_message_mb=1) as client:
        with pytest.raises(InvalidArgument) as caught:
            client.submit(BENIGN, negative_prompt="x" * (2 * 1024 * 1024))
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_unloadable_model_is_not_serving_and_submit_is_unavailable(make_live_server, tmp_path) -> None:
    live = make_live_server(model="CogVideoX-2b", i2v_model=None, workers=0)  # not owner/name: no model
    assert _health(live.address) == 2  # NOT_SERVING
    assert _health(live.address, "") == 2  # the overall service, what a standard probe asks
    assert _health(live.address, "veriframe.v1.Verification") == 1  # SERVING
    with Client(live.address, live.key(), retries=1) as client, pytest.raises(Unavailable) as caught:
        client.submit(BENIGN, **TEST_PARAMS)
    assert "model could not be loaded" in caught.value.message
    assert "CogVideoX-2b" not in caught.value.message  # the reason (and its paths) stay in the server log
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE


def test_worker_that_cannot_load_its_model_stops_submits(make_live_server, tiny_model_dir, tmp_path) -> None:
    broken = tmp_path / "no-weights"
    shutil.copytree(tiny_model_dir, broken)
    for weights in broken.glob("transformer/*.safetensors"):
        weights.unlink()
    live = make_live_server(model=str(broken), i2v_model=None, workers=1)
    deadline = time.monotonic() + 60
    while _health(live.address) != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _health(live.address) == 2 and _health(live.address, "") == 2
    with Client(live.address, live.key(), retries=1) as client, pytest.raises(Unavailable) as caught:
        client.submit(BENIGN, **TEST_PARAMS)
    assert "model could not be loaded" in caught.value.message
    assert str(tmp_path) not in caught.value.message and "/" not in caught.value.message


def test_startup_refuses_missing_keys_tls_and_a_used_port(live_server, tmp_path) -> None:
    from veriframe.service.server.app import BackgroundServer, StartupError
    from veriframe.service.settings import Settings

    base = {
        "database_url": f"sqlite:///{tmp_path / 'v.db'}",
        "model": str(live_server.settings.model),
        "output_dir": tmp_path / "out",
        "workers": 0,
        "listen": "127.0.0.1:0",
        "keys_dir": live_server.settings.keys_dir,
    }
    partial = tmp_path / "keys-no-ledger"
    shutil.copytree(live_server.settings.keys_dir, partial)
    (partial / "ledger-key.pem").unlink()
    no_signer = tmp_path / "keys-no-signer"
    shutil.copytree(live_server.settings.keys_dir, no_signer)
    for pem in no_signer.glob("*.pem"):
        if pem.name not in ("ledger-key.pem", "ledger-pub.pem"):
            pem.unlink()
    cases = [
        ({"keys_dir": tmp_path / "nowhere"}, "ledger"),
        ({"keys_dir": partial}, "ledger-key.pem"),
        ({"keys_dir": no_signer}, "C2PA signing keys"),
        ({"tls_cert": tmp_path / "no-cert.pem", "tls_key": tmp_path / "no-key.pem"}, "no-cert.pem"),
        ({"trust_anchors": [tmp_path / "no-root.pem"]}, "no-root.pem"),
        ({"listen": live_server.address}, "in use"),
    ]
    for overrides, words in cases:
        with pytest.raises(StartupError, match=words.replace(".", r"\.")):
            BackgroundServer(Settings(**{**base, **overrides})).start()


def test_serve_exits_2_without_keys(tmp_path) -> None:
    from tests.test_cli_generate_and_demo import run

    database = f"sqlite:///{tmp_path / 'v.db'}"
    result = run(
        "veriframe", "serve", "--database", database, "--keys", str(tmp_path / "none"),
        "--workers", "0", "--listen", "127.0.0.1:0", timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "cannot start" in result.stderr and "keys init" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_only_without_workers_exits_2_naming_the_fix(tmp_path) -> None:
    from tests.test_cli_generate_and_demo import run

    result = run(
        "veriframe", "serve", "--database", f"sqlite:///{tmp_path / 'v.db'}", "--worker-only",
        "--workers", "0", timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "worker_only serves no API, so it needs workers >= 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_trust_anchors_env_is_os_pathsep_separated(monkeypatch, tmp_path) -> None:
    import os

    from veriframe.service.settings import load_settings

    monkeypatch.setenv("VERIFRAME_TRUST_ANCHORS", os.pathsep.join(["/etc/a.pem", "/etc/b.pem"]))
    assert load_settings().trust_anchors == [Path("/etc/a.pem"), Path("/etc/b.pem")]
    monkeypatch.delenv("VERIFRAME_TRUST_ANCHORS")
    config = tmp_path / "server.json"
    config.write_text('{"trust_anchors": ["/etc/c.pem"]}')
    assert load_settings(config).trust_anchors == [Path("/etc/c.pem")]


def test_default_model_is_one_the_engine_accepts(monkeypatch) -> None:
    from veriframe.service.settings import Settings

    monkeypatch.delenv("VERIFRAME_MODEL", raising=False)
    owner, name = Settings().model.split("/")  # a Hugging Face id is owner/name
    assert owner == "THUDM" and name.startswith("CogVideoX")


def test_retention_purges_only_ended_jobs(api_only) -> None:
    from veriframe.service.clock import utcnow
    from veriframe.service.db import Job, PromptText

    with api_only.client(tenant="retention") as client:
        queued = client.submit(BENIGN, **TEST_PARAMS).job.id
        ended = client.submit(BENIGN, **TEST_PARAMS).job.id
        client.cancel_job(ended)
    ctx = api_only.ctx
    with ctx.sessions.begin() as s:
        for job_id in (queued, ended):
            s.get(PromptText, job_id).purge_after = utcnow() - timedelta(days=1)
    purged = ctx.ledger.purge_prompts()
    assert ended in purged and queued not in purged
    with ctx.sessions() as s:
        assert s.get(PromptText, queued) is not None and s.get(PromptText, ended) is None
        assert s.get(Job, queued).state == "queued"


def test_uploaded_inputs_are_deleted_whenever_a_job_ends(api_only) -> None:
    from veriframe.service.auth import Principal
    from veriframe.service.clock import utcnow
    from veriframe.service.db import Job

    ctx = api_only.ctx
    inputs = Path(api_only.settings.output_dir) / "inputs"
    video = _mp4(9, 256, 256)
    with api_only.client(tenant="inputs") as client:
        held = client.submit("Barack Obama giving a speech in a sunny park", mode="v2v", video=video,
                             **{**TEST_PARAMS, "num_frames": None}).job
        lost = client.submit(BENIGN, mode="v2v", video=video, **{**TEST_PARAMS, "num_frames": None}).job
    assert held.review_id and list(inputs.glob(f"{held.id}*")) and list(inputs.glob(f"{lost.id}*"))
    moderator = Principal(key_id="key:mod", role="moderator", tenant="ops", prefix="mod")
    ctx.workflow.reject_review(moderator, held.review_id, "not allowed")
    assert not list(inputs.glob(f"{held.id}*"))  # review rejected
    # A worker died on its last attempt: the maintenance loop fails the job and drops its input.
    with ctx.sessions.begin() as s:
        row = s.get(Job, lost.id)
        row.state, row.worker_id, row.attempts = "running", "dead-worker", ctx.store.max_attempts
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
    recovered = {r.job_id: r.action for r in ctx.store.recover_expired()}
    assert recovered[lost.id] == "failed" and not list(inputs.glob(f"{lost.id}*"))


def test_client_errors_carry_no_server_internals(api_only) -> None:
    with api_only.client(tenant="internals") as client, pytest.raises(InvalidArgument) as caught:
        client.verify(b"definitely not media", filename="x.mp4")
    assert caught.value.field == "chunk"
    assert "veriframe-verify-" not in caught.value.message and "/tmp" not in caught.value.message


def test_failed_job_tells_the_requester_what_to_do_not_the_exception(make_live_server) -> None:
    from veriframe.service.api.gen import common_pb2

    api = make_live_server(workers=0)
    with api.client(tenant="fails") as client:
        v2v = {**TEST_PARAMS, "num_frames": None}
        job = client.submit(BENIGN, mode="v2v", video=_mp4(9, 256, 256), **v2v).job
    stored = list((Path(api.settings.output_dir) / "inputs").glob(f"{job.id}*"))
    stored[0].unlink()  # the worker will not find the input: a server-side failure
    worker = make_live_server(database_url=api.settings.database_url, output_dir=api.settings.output_dir)
    with worker.client(tenant="fails") as client:
        final = client.wait(job.id, timeout=120)
    assert final.state == common_pb2.JOB_STATE_FAILED and final.error.code == "GENERATION_FAILED"
    assert str(stored[0]) not in final.error.message and "/" not in final.error.message
    assert "submit the request again" in final.error.message
