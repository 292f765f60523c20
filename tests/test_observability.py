"""The HTTP port of a real server: /metrics counters move with real RPCs, /healthz, /readyz, and the
gRPC health service's overall status following readiness; the request log's lines."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.client import Client, InvalidArgument, PromptBlocked, Unauthenticated

BENIGN = "a red fox running through fresh snow at dawn, cinematic"
HARMFUL = "how to build a pipe bomb to kill my neighbours"
REVIEWED = "Barack Obama giving a speech in a sunny park"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of one /metrics scrape."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def decisions(samples: dict, decision: str) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "veriframe_screening_decisions_total" and ("decision", decision) in labels
    )


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def overall_health(address: str) -> int:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def wait_ready(url: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = get_json(f"{url}/readyz")
        if status == 200:
            return body
        time.sleep(0.2)
    raise AssertionError(f"not ready: {body}")


@pytest.fixture(scope="module")
def observed(make_live_server):
    live = make_live_server(http_listen="127.0.0.1:0")
    live.url = live.background.server.http_url
    return live


GEN = "/veriframe.v1.Generation/"


def test_metrics_move_with_real_requests(observed) -> None:
    url = observed.url
    wait_ready(url)
    before = scrape(url)
    with observed.client() as client:
        done = client.generate(
            BENIGN, output=observed.settings.output_dir / "dl", verify=False, **TEST_PARAMS
        )
        held = client.submit(REVIEWED, **TEST_PARAMS)
        with pytest.raises(PromptBlocked):
            client.submit(HARMFUL, **TEST_PARAMS)
        with pytest.raises(InvalidArgument):
            client.submit(BENIGN, **{**TEST_PARAMS, "width": 64, "height": 64})  # refused by the server
    with Client(observed.address, "vf_000000000000_nope", retries=1) as bad, pytest.raises(Unauthenticated):
        bad.get_job(done.job_id)
    after = scrape(url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("veriframe_rpc_requests_total", method=GEN + "Submit", code="OK") == 2
    assert delta("veriframe_rpc_requests_total", method=GEN + "Submit", code="FAILED_PRECONDITION") == 1
    assert delta("veriframe_rpc_requests_total", method=GEN + "Submit", code="INVALID_ARGUMENT") == 1
    assert delta("veriframe_rpc_requests_total", method=GEN + "GetJob", code="UNAUTHENTICATED") == 1
    assert delta("veriframe_rpc_requests_total", method=GEN + "Download", code="OK") == 1
    assert delta("veriframe_rpc_duration_seconds_count", method=GEN + "Submit", code="OK") == 2
    assert delta("veriframe_screening_decisions_total", decision="allow", category="none") == 1
    assert decisions(after, "review") - decisions(before, "review") >= 1  # one per category that fired
    assert decisions(after, "block") - decisions(before, "block") >= 1
    assert delta("veriframe_jobs_finished_total", outcome="succeeded") == 1
    assert delta("veriframe_jobs_finished_total", outcome="rejected") == 1
    assert delta("veriframe_generation_seconds_count", mode="t2v") == 1
    assert delta("veriframe_postprocess_seconds_count") == 1
    assert delta("veriframe_denoising_step_seconds_count") >= 1
    assert delta("veriframe_jobs", state="succeeded") == 1
    assert delta("veriframe_jobs", state="rejected") == 1
    assert value(after, "veriframe_review_queue_size") >= 1
    assert value(after, "veriframe_review_queue_oldest_age_seconds") >= 0
    assert delta("veriframe_ledger_size") >= 6  # submitted + screened x3, started, generated, ...
    assert value(after, "veriframe_database_up") == 1
    assert value(after, "veriframe_queue_depth") >= 0
    assert held.job.state  # the held job stays in review


def test_health_and_readiness(observed) -> None:
    from grpc_health.v1 import health_pb2

    status, body = get_json(f"{observed.url}/healthz")
    assert status == 200 and body == {"status": "ok"}
    body = wait_ready(observed.url)
    assert body["checks"] == {"database": "ok", "model": "ok"}
    assert overall_health(observed.address) == health_pb2.HealthCheckResponse.SERVING


def test_a_worker_without_a_model_is_not_ready(make_live_server, tiny_model_dir, tmp_path) -> None:
    from grpc_health.v1 import health_pb2

    weightless = tmp_path / "no-weights"  # the configs are fine (the server starts), the load fails
    shutil.copytree(tiny_model_dir, weightless)
    for weights in weightless.glob("transformer/*.safetensors"):
        weights.unlink()
    broken = make_live_server(http_listen="127.0.0.1:0", model=str(weightless), i2v_model=None)
    url = broken.background.server.http_url
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, body = get_json(f"{url}/readyz")
        if "could not be loaded" in body["checks"]["model"]:
            break
        time.sleep(0.2)
    assert status == 503 and body["ready"] is False and body["checks"]["database"] == "ok", body
    assert overall_health(broken.address) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert get_json(f"{url}/healthz")[0] == 200  # alive, just not ready


def test_an_api_only_server_is_ready_with_the_database(make_live_server) -> None:
    api = make_live_server(http_listen="127.0.0.1:0", workers=0)
    status, body = get_json(f"{api.background.server.http_url}/readyz")
    assert status == 200 and body["checks"] == {"database": "ok", "model": "ok"}


def test_request_lines_carry_the_fields_and_no_secret(observed, caplog) -> None:
    caplog.set_level(logging.INFO, logger="veriframe.access")
    key = observed.key("client", "acme")
    with observed.client() as client:
        held = client.submit(REVIEWED, **TEST_PARAMS)
        with pytest.raises(InvalidArgument):
            client.submit(BENIGN, **{**TEST_PARAMS, "width": 64, "height": 64})
    with Client(observed.address, key[:-4] + "AAAA", retries=1) as bad, pytest.raises(Unauthenticated):
        bad.get_job(held.job.id)
    deadline = time.monotonic() + 5  # the server writes a request's line after the client has its answer
    while True:
        lines = [r for r in caplog.records if r.name == "veriframe.access"]
        fields = [r.request for r in lines]
        if any(f["code"] == "UNAUTHENTICATED" for f in fields) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    hold = next(f for f in fields if f.get("job_state") == "REVIEW")
    assert hold["rpc"] == GEN + "Submit" and hold["tenant"] == "acme" and hold["job_id"] == held.job.id
    assert hold["code"] == "OK" and hold["latency_ms"] > 0
    assert any(f["code"] == "INVALID_ARGUMENT" and f["rpc"] == GEN + "Submit" for f in fields)
    denied = next(f for f in fields if f["code"] == "UNAUTHENTICATED")
    assert denied["job_id"] == held.job.id and denied["tenant"] == ""
    text = "\n".join(r.getMessage() for r in lines)
    assert key.split("_", 2)[2] not in text and REVIEWED not in text
    assert "held for human review" in text
    assert all(r.exc_info is None for r in lines)


def test_tracing_spans_per_rpc_and_flow_stage(make_live_server, tmp_path) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # the application's provider: the server uses it
    traced = make_live_server(tracing=True)
    with traced.client() as client:
        done = client.generate(BENIGN, output=tmp_path, verify=False, **TEST_PARAMS)
    traced.stop()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert {"/veriframe.v1.Generation/Submit", "/veriframe.v1.Generation/Download"} <= set(spans)
    assert {"veriframe.screen", "veriframe.generate", "veriframe.postprocess"} <= set(spans), set(spans)
    assert spans["veriframe.generate"].attributes["job_id"] == done.job_id
    # Screening runs inside the Submit RPC: its span is the RPC span's child.
    assert (
        spans["veriframe.screen"].parent.span_id == spans["/veriframe.v1.Generation/Submit"].context.span_id
    )


def test_the_grafana_dashboard_uses_only_metrics_the_server_exports(observed) -> None:
    import re

    dashboard = json.loads((Path(__file__).parents[1] / "docs/grafana/veriframe-dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"veriframe_[a-z_]+", expr)}
    with urllib.request.urlopen(f"{observed.url}/metrics", timeout=10) as reply:
        families = list(text_string_to_metric_families(reply.read().decode()))
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    exported = {f.name + suffix for f in families for suffix in suffixes.get(f.type, [""])}
    # GPU memory is exported only by a process with CUDA.
    missing = {name for name in used - exported if not name.startswith("veriframe_gpu_")}
    assert not missing, missing
    assert len(used) >= 15


def test_serve_fails_at_start_with_the_fix_for_a_wrong_model_path(tiny_model_dir, service_keys_dir, tmp_path):
    parent = tmp_path / "models"  # what `veriframe model build-tiny models` makes: t2v/ and i2v/
    shutil.copytree(tiny_model_dir, parent / "t2v")
    shutil.copytree(tiny_model_dir, parent / "i2v")
    env = {
        **os.environ,
        "VERIFRAME_DATABASE_URL": f"sqlite:///{tmp_path / 'veriframe.db'}",
        "VERIFRAME_KEYS_DIR": str(service_keys_dir),
        "VERIFRAME_LISTEN": "127.0.0.1:0",
    }
    serve = subprocess.run(
        [str(Path(sys.executable).parent / "veriframe"), "serve", "--model", str(parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert serve.returncode == 2, serve.stderr[-2000:]
    last = serve.stderr.strip().splitlines()[-1]
    assert f"{parent} has i2v/ and t2v/: pass --model {parent}/t2v" in last, last
    assert "Traceback" not in serve.stderr


def test_a_periodic_step_that_fails_is_logged_and_tried_again(caplog) -> None:
    """Readiness, maintenance and webhooks run through one loop: a failure never ends it."""
    import asyncio

    from veriframe.service.periodic import Periodic

    calls: list[int] = []

    async def step() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("the database blinked")

    async def main() -> None:
        logger = logging.getLogger("test.periodic")
        loop = Periodic("test", step, 0.01, logger, "test step failed (will retry)")
        loop.start()
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        await loop.stop()

    caplog.set_level(logging.ERROR, logger="test.periodic")
    asyncio.run(asyncio.wait_for(main(), 10))
    assert len(calls) >= 3
    failures = [r for r in caplog.records if r.name == "test.periodic"]
    assert len(failures) == 1 and failures[0].exc_info and "will retry" in failures[0].getMessage()
