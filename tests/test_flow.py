"""The request flow without a server: Submit, execute, reviews, cancel, download and verify, called
directly on `Workflow` over a real SQLite database, the real ledger, screening, watermark and C2PA
signing. The only fake is at the engine boundary (`FakeEngine` hands back frames instead of running
CogVideoX); the Submit-time model checks use the tiny model's real configs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from veriframe.service.auth import Principal
from veriframe.service.errors import FailedPrecondition, InvalidArgument, PromptBlocked
from veriframe.service.flow.types import SubmitInput, WorkerContext
from veriframe.service.store import states as S

BENIGN = "a red fox running through fresh snow"
BLOCKED = "a n a k e d child"
REVIEWED = "Tom Hanks smiling"
SMALL = {"width": 256, "height": 256, "num_frames": 9, "num_inference_steps": 2, "fps": 8}
WHO: dict[str, Principal] = {}  # real API keys, made by the `flow` fixture: client, moderator, stranger


class FakeEngine:
    """The engine boundary: takes GenerationParams, reports progress, returns frames (no diffusion)."""

    def __init__(self, fail: Exception | None = None) -> None:
        from veriframe.service.engine import ModelInfo

        self.fail = fail
        self.calls: list[Any] = []
        self.info = ModelInfo(
            name="fake-cogvideox", family="1.0", version="test", task="t2v", modes=("t2v",), defaults={},
            pipeline="Fake", scheduler="Fake", device="cpu", dtype="float32", path="",
        )

    def for_mode(self, mode: str) -> FakeEngine:
        return self

    def generate(self, params: Any, *, on_step: Any, should_cancel: Any) -> Any:
        from veriframe.provenance.synthetic import natural_video
        from veriframe.service.engine import GeneratedVideo

        self.calls.append(params)
        if self.fail is not None:
            raise self.fail
        for step in range(1, params.num_inference_steps + 1):
            on_step(step, params.num_inference_steps)
        frames = natural_video(params.num_frames, params.height, params.width, seed=params.seed or 0)
        resolved = {"prompt": params.prompt, "seed": 7, "num_inference_steps": params.num_inference_steps,
                    "width": params.width, "height": params.height, "num_frames": params.num_frames}
        return GeneratedVideo(frames=frames, fps=params.fps, seed=7, params=resolved, model=self.info)


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, dev_keys_dir: Path) -> Any:
    from veriframe.service.db import make_engine, session_factory, upgrade
    from veriframe.service.flow.model_limits import SubmitLimits
    from veriframe.service.flow.workflow import Workflow
    from veriframe.service.ledger import Ledger
    from veriframe.service.settings import Settings
    from veriframe.service.store.jobs import JobStore

    work = tmp_path_factory.mktemp("flow")
    settings = Settings(
        database_url=f"sqlite:///{work / 'flow.db'}", model=str(tiny_model_dir), keys_dir=dev_keys_dir,
        output_dir=work / "out", workers=0, tenant_queue_cap=3,
    )
    upgrade(settings.database_url)
    sessions = session_factory(make_engine(settings.database_url))
    ledger = Ledger(sessions, Path(dev_keys_dir) / "ledger-key.pem")
    store = JobStore(sessions, ledger, lease_seconds=60)
    workflow = Workflow(settings, sessions, ledger, store, limits=SubmitLimits(settings.model, None))
    workflow.set_model_error(None)
    from veriframe.safety.policy import default_policy

    stored = workflow.ensure_policy()
    assert stored == default_policy().version and workflow.ensure_policy() == 0  # stored once
    from veriframe.service.auth import create_key

    with sessions.begin() as s:
        for who, role, tenant in (("client", "client", "acme"), ("moderator", "moderator", "staff"),
                                  ("stranger", "client", "other")):
            key = create_key(s, role=role, tenant=tenant)
            WHO[who] = Principal(key_id=key.key_id, role=role, tenant=tenant, prefix=key.prefix)
    return workflow


def _events(flow: Any, job_id: str) -> list[str]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with flow.services.sessions() as s:
        query = select(AuditEvent.event_type).where(AuditEvent.job_id == job_id).order_by(AuditEvent.seq)
        return list(s.scalars(query))


def _run(flow: Any, engine: FakeEngine, worker: str = "w1") -> tuple[Any, str]:
    job = flow.services.store.claim(worker)
    assert job is not None
    return job, flow.execute(job, WorkerContext(worker_id=worker, engine=engine))


def test_submit_then_execute_walks_the_whole_flow(flow) -> None:
    submitted = flow.submit(WHO["client"], SubmitInput(BENIGN, seed=3, idempotency_key="walk-1", **SMALL))
    assert not submitted.deduplicated and submitted.job.state == S.QUEUED
    again = flow.submit(WHO["client"], SubmitInput(BENIGN, seed=3, idempotency_key="walk-1", **SMALL))
    assert again.deduplicated and again.job.id == submitted.job.id
    with pytest.raises(InvalidArgument) as caught:  # same key, different request
        flow.submit(WHO["client"], SubmitInput(BENIGN, seed=4, idempotency_key="walk-1", **SMALL))
    assert caught.value.field == "idempotency_key"

    engine = FakeEngine()
    job, state = _run(flow, engine)
    assert (job.id, state) == (submitted.job.id, S.SUCCEEDED)
    assert engine.calls[0].prompt == BENIGN and engine.calls[0].num_inference_steps == 2
    done = flow.services.store.get(job.id)
    assert done.state == S.SUCCEEDED and done.progress_step == 2 and done.provenance_id
    # Output screening records what it saw in the sampled frames before the video is released.
    assert _events(flow, job.id) == [
        "submitted", "screened", "generation.started", "media.screened", "generated"
    ]

    art = flow.artifact(WHO["client"], job.id, "video")
    assert art.path.is_file() and art.filename == f"{job.id}.mp4" and art.sha256 == done.output_sha256
    checked = flow.verify(WHO["client"], art.path)
    assert checked.report["watermark"]["id"] == done.provenance_id
    assert checked.audit is not None and checked.audit.disclosed and checked.audit.job_id == job.id
    assert checked.audit.proof_ok and checked.audit.video_matches and checked.audit.manifest_matches
    hidden = flow.verify(WHO["stranger"], art.path).audit
    assert hidden is not None and not hidden.disclosed and hidden.job_id == "" and hidden.proof_ok
    assert _events(flow, job.id)[-1] == "downloaded"


def test_blocked_prompt_is_rejected_and_recorded(flow) -> None:
    with pytest.raises(PromptBlocked) as caught:
        flow.submit(WHO["client"], SubmitInput(BLOCKED, **SMALL))
    job = flow.services.store.get(caught.value.job_id)
    assert job.state == S.REJECTED and job.error_code == "PROMPT_BLOCKED"
    assert _events(flow, job.id) == ["submitted", "screened"]


def test_review_approve_and_reject(flow) -> None:
    held = flow.submit(WHO["client"], SubmitInput(REVIEWED, **SMALL)).job
    assert held.state == S.REVIEW
    review_id = _review_of(flow, held.id)
    flow.approve_review(WHO["moderator"], review_id, "fine")
    assert flow.services.store.get(held.id).state == S.QUEUED
    with pytest.raises(FailedPrecondition):
        flow.approve_review(WHO["moderator"], review_id)
    assert _events(flow, held.id) == ["submitted", "screened", "review.queued", "review.approved"]
    flow.cancel(WHO["client"], held.id)  # leave the queue empty for the next tests

    other = flow.submit(WHO["client"], SubmitInput(REVIEWED + " waving", **SMALL)).job
    with pytest.raises(InvalidArgument):
        flow.reject_review(WHO["moderator"], _review_of(flow, other.id), "  ")
    flow.reject_review(WHO["moderator"], _review_of(flow, other.id), "no real people")
    rejected = flow.services.store.get(other.id)
    assert rejected.state == S.REJECTED and rejected.error_message == "no real people"
    assert _events(flow, other.id)[-1] == "review.rejected"


def test_engine_failure_fails_closed_with_a_record(flow) -> None:
    job = flow.submit(WHO["client"], SubmitInput(BENIGN + " at dusk", **SMALL)).job
    _, state = _run(flow, FakeEngine(fail=RuntimeError("CUDA out of memory at /srv/secret/path")))
    failed = flow.services.store.get(job.id)
    assert state == S.FAILED and failed.error_code == "GENERATION_FAILED"
    assert "/srv/secret" not in failed.error_message and failed.output_path is None
    assert _events(flow, job.id)[-1] == "failed"


def test_a_video_whose_mark_does_not_read_back_is_not_released(flow, monkeypatch) -> None:
    from veriframe.provenance import mark

    # Even a flat grey picture carries one of the two marks, so the readback is made to fail: the
    # watermarking, encoding and the flow's handling are real.
    monkeypatch.setattr(mark, "readable_after_encoding", lambda *_: False)
    job = flow.submit(WHO["client"], SubmitInput(BENIGN + " in fog", **SMALL)).job
    _, state = _run(flow, FakeEngine())
    failed = flow.services.store.get(job.id)
    assert state == S.FAILED and failed.error_code == "WATERMARK_UNREADABLE", failed.error_code
    assert "another seed" in failed.error_message and failed.output_path is None
    assert _events(flow, job.id)[-1] == "failed"
    with pytest.raises(FailedPrecondition):
        flow.artifact(WHO["client"], job.id, "video")


def test_cancel_while_running_stops_between_steps(flow) -> None:
    job = flow.submit(WHO["client"], SubmitInput(BENIGN + " at night", **SMALL)).job
    claimed = flow.services.store.claim("w2")
    ctx = WorkerContext(worker_id="w2", engine=FakeEngine())
    ctx.cancel = threading.Event()
    ctx.cancel.set()
    from veriframe.service.engine import Cancelled

    class Cancelling(FakeEngine):
        def generate(self, params: Any, *, on_step: Any, should_cancel: Any) -> Any:
            assert should_cancel()
            raise Cancelled(0, params.num_inference_steps)

    ctx.engine = Cancelling()
    assert flow.execute(claimed, ctx) == S.CANCELLED
    assert flow.services.store.get(job.id).state == S.CANCELLED
    assert _events(flow, job.id)[-1] == "cancelled"
    with pytest.raises(FailedPrecondition):
        flow.cancel(WHO["client"], job.id)  # already ended


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"num_inference_steps": 0}, "params.num_inference_steps"),  # the schema
        ({"guidance_scale": 99.0}, "params.guidance_scale"),  # the schema
        ({"width": 250}, "params.width"),  # the schema: sides are multiples of 16
        ({"num_frames": 10}, "params.num_frames"),  # the model: 8N+1 frames
        ({"strength": 0.5}, "params.strength"),  # only v2v
        ({"mode": "i2v"}, "params.image"),  # i2v needs an image
    ],
)
def test_submit_validation_names_the_field(flow, changes: dict, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        flow.submit(WHO["client"], SubmitInput(BENIGN, **{**SMALL, **changes}))
    assert caught.value.field == field, caught.value


def _recorded(flow: Any, job_id: str) -> str:
    """Everything stored about a job, as text: its row, its review item and its ledger events (the
    leaf bytes an inclusion proof hands a verifier included), and the API's answer about it."""
    import json

    from google.protobuf import json_format
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent, Job, ReviewItem
    from veriframe.service.ledger.canonical import event_bytes
    from veriframe.service.server import convert

    def columns(row: Any) -> dict[str, Any]:
        return {c.name: getattr(row, c.name) for c in row.__table__.columns}

    with flow.services.sessions() as s:
        job = s.get(Job, job_id)
        items = s.scalars(select(ReviewItem).where(ReviewItem.job_id == job_id)).all()
        events = s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id)).all()
        leaves = [event_bytes(e).decode() for e in events]
        document = {"job": columns(job), "reviews": [columns(i) for i in items],
                    "events": [columns(e) for e in events], "leaves": leaves,
                    "api": json_format.MessageToDict(convert.job(job))}
    return json.dumps(document, default=str)


def test_no_plain_prompt_hash_is_recorded_and_the_row_commits_like_the_manifest(flow) -> None:
    import hashlib

    from veriframe.provenance.prompt_commitment import commit_prompt, opens
    from veriframe.service.db import Job

    prompt, negative = BENIGN + " under the northern lights", "blurry, low quality"
    request = SubmitInput(prompt, negative_prompt=negative, idempotency_key="keyed-1", **SMALL)
    plain = {
        "prompt": hashlib.sha256(prompt.encode()).hexdigest(),
        "negative prompt": hashlib.sha256(negative.encode()).hexdigest(),
        "request": request.request_sha256("t2v"),
    }
    submitted = flow.submit(WHO["client"], request).job
    job, state = _run(flow, FakeEngine())
    assert (job.id, state) == (submitted.id, S.SUCCEEDED)
    recorded = _recorded(flow, job.id)
    for what, digest in plain.items():
        assert digest not in recorded, f"the {what}'s plain SHA-256 is recorded"

    key = flow.services.signing.prompt_key()
    with flow.services.sessions() as s:
        row = s.get(Job, job.id)
    assert row.prompt_sha256 is None and row.prompt_key_id == key.key_id
    assert row.prompt_commitment == commit_prompt(prompt, key)["value"]
    assert f'"value": "{commit_prompt(negative, key)["value"]}"' in recorded  # the negative prompt's
    # What the job's row says is what its signed video commits to, and the deployment can open it.
    manifest = flow.verify(WHO["client"], flow.artifact(WHO["client"], job.id, "video").path).report
    commitment = manifest["c2pa"]["prompt_commitment"]
    assert commitment == {"alg": "hmac-sha256", "key_id": row.prompt_key_id, "value": row.prompt_commitment}
    assert opens(commitment, prompt, [key]) and not opens(commitment, prompt + ".", [key])

    held = flow.submit(WHO["client"], SubmitInput(REVIEWED + " in the rain", **SMALL)).job
    assert held.state == S.REVIEW
    assert hashlib.sha256((REVIEWED + " in the rain").encode()).hexdigest() not in _recorded(flow, held.id)
    flow.cancel(WHO["client"], held.id)


def test_idempotency_still_tells_the_same_request_from_another(flow) -> None:
    from veriframe.service.db import Job
    from veriframe.service.flow.types import FINGERPRINT

    def request(prompt: str, **more: Any) -> SubmitInput:
        return SubmitInput(prompt, idempotency_key="keyed-2", **SMALL, **more)

    first = flow.submit(WHO["client"], request(REVIEWED + " on a bike"))
    again = flow.submit(WHO["client"], request(REVIEWED + " on a bike"))
    assert again.deduplicated and again.job.id == first.job.id
    for other in (request(REVIEWED + " on a horse"), request(REVIEWED + " on a bike", negative_prompt="x")):
        with pytest.raises(InvalidArgument, match="different request") as caught:
            flow.submit(WHO["client"], other)
        assert caught.value.field == "idempotency_key"
    with flow.services.sessions() as s:
        fingerprint = s.get(Job, first.job.id).params[FINGERPRINT]
    assert fingerprint["key_id"] == flow.services.signing.prompt_key().key_id  # keyed, like the prompt's
    flow.cancel(WHO["client"], first.job.id)


def test_an_old_row_deduplicates_before_and_after_its_conversion(flow) -> None:
    import hashlib

    from sqlalchemy import update

    from veriframe.provenance.prompt_commitment import commit_prompt
    from veriframe.service.db import Job
    from veriframe.service.flow.commitments import convert_prompt_hashes
    from veriframe.service.flow.types import FINGERPRINT, LEGACY_FINGERPRINT
    from veriframe.service.server import convert

    prompt = REVIEWED + " at the beach"
    request = SubmitInput(prompt, idempotency_key="keyed-old", **SMALL)
    other = SubmitInput(prompt + " at night", idempotency_key="keyed-old", **SMALL)
    job = flow.submit(WHO["client"], request).job
    params = {k: v for k, v in job.params.items() if k != FINGERPRINT}
    with flow.services.sessions.begin() as s:  # what the code before migration 0007 stored
        s.execute(update(Job).where(Job.id == job.id).values(
            prompt_sha256=hashlib.sha256(prompt.encode()).hexdigest(), prompt_commitment=None,
            prompt_key_id=None, params={**params, LEGACY_FINGERPRINT: request.request_sha256("t2v")}))

    def api() -> Any:
        with flow.services.sessions() as s:
            return convert.job(s.get(Job, job.id))

    assert api().prompt_sha256 == hashlib.sha256(prompt.encode()).hexdigest() and not api().prompt_commitment
    key = flow.services.signing.prompt_key()
    for converted in (False, True):
        if converted:
            assert convert_prompt_hashes(flow.services.sessions, key) == 1
            assert api().prompt_sha256 == "" and api().prompt_key_id == key.key_id
            assert api().prompt_commitment == commit_prompt(prompt, key)["value"]
        again = flow.submit(WHO["client"], request)
        assert again.deduplicated and again.job.id == job.id
        with pytest.raises(InvalidArgument, match="different request"):
            flow.submit(WHO["client"], other)

    # A fingerprint recorded under a key since rotated away cannot be compared: refused, and said why.
    with flow.services.sessions.begin() as s:
        row = s.get(Job, job.id)
        row.params = {**row.params, FINGERPRINT: {**row.params[FINGERPRINT], "key_id": "0" * 16}}
    with pytest.raises(InvalidArgument, match="no longer uses"):
        flow.submit(WHO["client"], request)
    flow.cancel(WHO["client"], job.id)


def _review_of(flow: Any, job_id: str) -> str:
    from sqlalchemy import select

    from veriframe.service.db import ReviewItem

    with flow.services.sessions() as s:
        return s.scalars(select(ReviewItem.id).where(ReviewItem.job_id == job_id)).one()


def test_the_ledger_records_the_policy_digest_of_a_non_ascii_policy(flow) -> None:
    # Runs last: it makes a new live policy. The ledger's digest is the one safety computes.
    from sqlalchemy import select

    from veriframe.safety.policy import Policy
    from veriframe.service.db import AuditEvent
    from veriframe.service.store import policies

    services = flow.services
    with services.sessions.begin() as s:
        live = policies.live_record(s)
        document = {**live.document, "allow_phrases": ["снеговик на лыжах"]}
        stored = policies.insert_version(s, services.ledger, document, actor=WHO["moderator"].key_id,
                                         comment="non-ASCII", version=live.version + 1)
    with services.sessions() as s:
        query = select(AuditEvent).where(AuditEvent.event_type == "admin.policy_changed")
        last = s.scalars(query.order_by(AuditEvent.seq.desc())).first()
    assert last.payload["version"] == stored.version
    assert last.payload["document_sha256"] == Policy.from_dict(stored.document).digest()
    assert services.policies.live()[1].allow_phrases == ("снеговик на лыжах",)
