"""CancelJob's contract under concurrency, on SQLite and PostgreSQL, with the tiny model.

Either the job ends CANCELLED, or Cancel fails FAILED_PRECONDITION with reason TOO_LATE (and the job
ends SUCCEEDED), or JOB_ENDED for a job that had ended. `bench/bench_cancel_race.py` runs >= 1,000.
"""

from __future__ import annotations

import pytest

from tests.fixtures.cancel_race import run_race, summary
from tests.fixtures.server import TEST_PARAMS
from veriframe.service.store import states as J

RACE_PARAMS = {**TEST_PARAMS, "num_inference_steps": 3}


@pytest.fixture(params=["sqlite", "postgres"])
def race_server(request: pytest.FixtureRequest, make_live_server):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return make_live_server(database_url=url, workers=1, tenant_queue_cap=500, lease_seconds=30.0)


def test_cancel_contract_holds_for_every_job(race_server) -> None:
    result = summary(run_race(race_server.address, race_server.key(tenant="race"), jobs=36, clients=6,
                              params=RACE_PARAMS, seed=4))
    assert not result["violations"], result
    # The draw reached the interesting states: cancelled while queued and while running, and too late.
    answers = result["cancel answers"]
    assert answers.get("OK (JOB_STATE_CANCELLED)", 0) > 0, answers
    late = answers.get("OK (JOB_STATE_RUNNING)", 0) + answers.get("FAILED_PRECONDITION TOO_LATE", 0)
    assert late > 0, answers


def test_cancel_that_loses_the_race_to_a_claim_still_cancels(make_live_server, monkeypatch) -> None:
    """Cancel reads QUEUED, a worker claims the job before Cancel writes: the job must still end
    CANCELLED (before the fix Cancel answered RUNNING with no cancel request, and the job succeeded)."""
    live = make_live_server(workers=0)
    key = live.key(tenant="lost-race")
    principal = live.ctx.auth.authenticate(key)
    with live.client(tenant="lost-race") as client:
        job_id = client.submit("a quiet harbour at dawn", **TEST_PARAMS).job.id
    store = live.ctx.store
    stale = store.get(job_id)
    assert stale.state == J.QUEUED
    assert store.claim("test-worker").id == job_id  # the worker wins the race
    real_get = store.get
    calls = iter([stale])
    monkeypatch.setattr(store, "get", lambda *a, **kw: next(calls, None) or real_get(*a, **kw))

    answered = live.ctx.workflow.cancel(principal, job_id)

    monkeypatch.setattr(store, "get", real_get)
    row = store.get(job_id)
    assert answered.state == J.RUNNING and row.cancel_requested, "Cancel answered without a cancel request"
    # And the worker can no longer take it to signing: the job will end CANCELLED.
    from veriframe.service.db import Job

    with live.ctx.sessions.begin() as s:
        moved = store.transition(s, job_id, owner="test-worker", from_states=(J.RUNNING,),
                                 to_state=J.FINALIZING, extra_where=(Job.cancel_requested.is_(False),))
    assert not moved
