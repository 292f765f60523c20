"""The engine through the real worker and job queue (a live gRPC server, SQLite, the tiny model):
post-processing overlaps the next generation, and a worker spanning two devices is one worker."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2
from veriframe.service.engine.handoff import Timeline

# Timing assertions: run alone, not beside another test process (`make test`).
pytestmark = pytest.mark.serial

PROMPTS = ("a small boat on a calm lake", "a red kite over a green hill")


def _instrument(live: Any, monkeypatch: pytest.MonkeyPatch, gate: threading.Event) -> dict[str, Any]:
    """Record the real worker's stages on a timeline, and which worker claimed what.

    The first generation waits (outside its span) until the test has queued the second job, so the
    queue holds the next job when the first video is handed to post-processing.
    """
    workflow, store = live.ctx.workflow, live.ctx.store
    seen: dict[str, Any] = {"timeline": Timeline(), "claims": [], "videos": {}}
    generate, finish, claim = workflow.execute_generation, workflow.finish, store.claim

    def timed_generate(job: Any, ctx: Any) -> Any:
        gate.wait(60)
        with seen["timeline"].span(job.id, "generate"):
            outcome = generate(job, ctx)
        if isinstance(outcome, tuple):
            seen["videos"][job.id] = outcome[1]
        return outcome

    def timed_finish(job: Any, ctx: Any, generated: Any) -> Any:
        with seen["timeline"].span(job.id, "post"):
            return finish(job, ctx, generated)

    def recorded_claim(worker_id: str) -> Any:
        job = claim(worker_id)
        if job is not None:
            seen["claims"].append((worker_id, job.id))
        return job

    monkeypatch.setattr(workflow, "execute_generation", timed_generate)
    monkeypatch.setattr(workflow, "finish", timed_finish)
    monkeypatch.setattr(store, "claim", recorded_claim)
    return seen


def _two_jobs(live: Any, gate: threading.Event) -> list[str]:
    with live.client() as client:
        ids = [client.submit(PROMPTS[0], seed=1, **TEST_PARAMS).job.id]
        ids.append(client.submit(PROMPTS[1], seed=2, **TEST_PARAMS).job.id)
        gate.set()
        for job_id in ids:
            assert client.wait(job_id, timeout=300).state == common_pb2.JOB_STATE_SUCCEEDED, job_id
    return ids


@pytest.mark.timeout(600)
def test_worker_marks_one_video_while_generating_the_next(make_live_server, monkeypatch):
    live = make_live_server()
    gate = threading.Event()
    seen = _instrument(live, monkeypatch, gate)
    first, second = _two_jobs(live, gate)
    timeline = seen["timeline"]
    # A job reads SUCCEEDED from inside `finish`, a moment before its span closes here.
    deadline = time.monotonic() + 30
    while len(timeline.of("post")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    gen1, gen2 = timeline.of("generate")
    post1, post2 = timeline.of("post")
    assert (gen1.job, gen2.job, post1.job, post2.job) == (first, second, first, second)
    # job 1 was watermarked, encoded, signed and recorded while job 2 was generating
    assert post1.start >= gen1.end and post1.start < gen2.end
    assert (first, second) in {(a, b) for a, b, _ in timeline.overlaps("post", "generate")}
    idle = timeline.idle_gaps("generate")[0]  # includes the worker's claim of job 2 (one UPDATE)
    marking = post1.end - post1.start
    print(
        f"\nworker timeline: {timeline.to_dict()}\nidle gap between generations {idle * 1000:.1f} ms "
        f"(claim included); post-processing job 1 took {marking * 1000:.0f} ms (a serial worker's gap)"
    )
    assert idle < marking / 2


@pytest.mark.timeout(600)
def test_a_worker_spanning_two_devices_is_one_worker_in_the_queue(make_live_server, monkeypatch):
    live = make_live_server(devices=["cpu", "cpu"])
    assert len(live.ctx.workers) == 1
    gate = threading.Event()
    seen = _instrument(live, monkeypatch, gate)
    first, second = _two_jobs(live, gate)
    worker = live.ctx.workers[0]
    assert type(worker.engine.main).__name__ == "ParallelEngine"
    assert worker.engine.main.load_facts["parallel"] == {"cfg_degree": 2, "sequence_degree": 1}
    # one worker id claimed both jobs, one after the other: the queue saw one worker, not two
    assert seen["claims"] == [(worker.worker_id, first), (worker.worker_id, second)]
    gen1, gen2 = seen["timeline"].of("generate")
    assert gen1.end <= gen2.start
    for job_id in (first, second):
        assert seen["videos"][job_id].params["engine"]["devices"] == ["cpu", "cpu"]
        assert seen["videos"][job_id].params["engine"]["parallel"] == "cfg"
