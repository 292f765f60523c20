"""Artifact storage: the local directory and a real S3-compatible server (SeaweedFS) behave alike."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from veriframe.service.storage import ArtifactMissing, LocalStorage, ObjectStorage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    server = request.getfixturevalue("s3_server")
    return ObjectStorage(f"s3://veriframe-test/{uuid.uuid4().hex[:8]}", server["options"])


def test_round_trip(storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB: several chunks
    source = tmp_path / "video.mp4"
    source.write_bytes(data)
    storage.put_file("acme/job-1/video.mp4", source)
    storage.put_bytes("acme/job-1/frames/frame_0000.png", b"png0")
    storage.put_bytes("acme/job-1/frames/frame_0001.png", b"png1")
    assert storage.size("acme/job-1/video.mp4") == len(data)
    chunks = list(storage.read_chunks("acme/job-1/video.mp4", 300_000))
    assert b"".join(chunks) == data and all(len(c) == 300_000 for c in chunks[:-1])
    fetched = storage.fetch("acme/job-1/video.mp4", tmp_path / "fetched" / "v.mp4")
    assert fetched.read_bytes() == data
    assert storage.list("acme/job-1/frames") == [
        "acme/job-1/frames/frame_0000.png",
        "acme/job-1/frames/frame_0001.png",
    ]
    storage.delete_prefix("acme/job-1")
    assert storage.list("acme/job-1") == []
    with pytest.raises(ArtifactMissing):
        storage.size("acme/job-1/video.mp4")
    with pytest.raises(ArtifactMissing):
        list(storage.read_chunks("acme/job-1/video.mp4", 1024))


def test_local_keys_cannot_leave_the_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(ValueError, match="leaves the storage root"):
        storage.put_bytes("../outside", b"x")
    legacy = tmp_path / "legacy.mp4"  # a row written before keys existed holds an absolute path
    legacy.write_bytes(b"old")
    assert storage.size(str(legacy)) == 3


def test_outputs_live_in_the_object_store_and_download_works_from_another_api_server(
    make_live_server, s3_server, tmp_path: Path
) -> None:
    """A worker server and an API-only server with separate disks share the database and the store."""
    import zipfile

    from tests.fixtures.server import TEST_PARAMS

    url = f"s3://veriframe-test/{uuid.uuid4().hex[:8]}"  # one bucket; a prefix per test
    shared = {
        "database_url": f"sqlite:///{tmp_path / 'shared.db'}",
        "storage_url": url,
        "storage_options": s3_server["options"],
    }
    worker = make_live_server(output_dir=tmp_path / "worker-disk", **shared)
    api = make_live_server(output_dir=tmp_path / "api-disk", workers=0, **shared)
    key = worker.key("client", "hosts")
    from veriframe.service.client import Client

    with Client(worker.address, key) as client:
        job = client.submit("a lighthouse on a cliff, waves crashing", return_frames=True, **TEST_PARAMS).job
        final = client.wait(job.id, timeout=300)
    assert final.output.video_sha256, final
    store = ObjectStorage(url, s3_server["options"])
    keys = store.list(f"hosts/{job.id}")
    assert f"hosts/{job.id}/video.mp4" in keys and any("/frames/" in k for k in keys), keys
    # No copy stays on the worker's disk: it is removed right after SUCCEEDED commits, so a client can
    # see SUCCEEDED a moment before the removal (seen once in a full run): give it a few seconds.
    deadline = time.monotonic() + 10
    while list((tmp_path / "worker-disk").rglob("*.mp4")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not list((tmp_path / "worker-disk").rglob("*.mp4"))
    with Client(api.address, key) as client:
        video = client.download(job.id, f"{tmp_path / 'from-api'}/")
        frames = client.download(job.id, f"{tmp_path / 'from-api'}/", what="frames_zip")
        report = client.verify(video)
    assert video.read_bytes() == b"".join(store.read_chunks(f"hosts/{job.id}/video.mp4", 1 << 20))
    assert final.output.video_size == store.size(f"hosts/{job.id}/video.mp4") == video.stat().st_size
    assert report.verified and report.watermark.id == final.provenance_id
    with zipfile.ZipFile(frames) as archive:
        assert len(archive.namelist()) == 9


def test_uploaded_inputs_leave_the_object_store_when_their_job_ends(
    make_live_server, s3_server, tmp_path: Path
) -> None:
    """An i2v input is uploaded at Submit and deleted once its job ends: succeeded or cancelled."""
    import numpy as np

    from tests.fixtures.server import TEST_PARAMS
    from veriframe.provenance.media import write_png
    from veriframe.service.api.gen import common_pb2

    url = f"s3://veriframe-test/{uuid.uuid4().hex[:8]}"
    live = make_live_server(storage_url=url, storage_options=s3_server["options"])
    store = ObjectStorage(url, s3_server["options"])
    image = tmp_path / "first.png"
    write_png(np.random.default_rng(3).integers(0, 256, (256, 256, 3), dtype=np.uint8), image)
    prompt = "a slow zoom in on a field of wheat, soft light"
    with live.client(tenant="uploads") as client:
        # Each input is looked for right after its own Submit: the tiny model finishes a job in about a
        # second, and a finished job's input is (rightly) gone by the time a later Submit returns.
        long = {**TEST_PARAMS, "num_inference_steps": 50}
        done = client.submit(prompt, mode="i2v", image=image, **long).job.id
        assert f"inputs/{done}.img" in store.list("inputs")
        cancelled = client.submit(f"{prompt}, at dusk", mode="i2v", image=image, **long).job.id
        assert f"inputs/{cancelled}.img" in store.list("inputs")
        client.cancel_job(cancelled)
        finals = {job_id: client.wait(job_id, timeout=300).state for job_id in (done, cancelled)}
    assert finals == {done: common_pb2.JOB_STATE_SUCCEEDED, cancelled: common_pb2.JOB_STATE_CANCELLED}
    assert store.list("inputs") == []


def test_lease_recovery_that_ends_a_job_deletes_its_stored_input(
    migrated_db_url: str, s3_server, tmp_path: Path
) -> None:
    """A job whose worker died once too often is failed by recovery, which also deletes its input."""
    from datetime import timedelta

    from veriframe.service.clock import utcnow
    from veriframe.service.db import Job, PromptText, make_engine, session_factory
    from veriframe.service.ledger import Ledger
    from veriframe.service.store.jobs import JobStore

    store = ObjectStorage(f"s3://veriframe-test/{uuid.uuid4().hex[:8]}", s3_server["options"])
    engine = make_engine(migrated_db_url)
    sessions = session_factory(engine)
    jobs = JobStore(sessions, Ledger(sessions), lease_seconds=1, max_attempts=1)
    jobs.storage = store  # as the Workflow sets it
    with sessions.begin() as s:
        job = Job(tenant="lost", state="queued", mode="i2v", params={}, prompt_commitment="0" * 64)
        s.add(job)
        s.flush()
        job_id, key = job.id, f"inputs/{job.id}.img"
        job.params = {"input_file": key}
        s.add(PromptText(job_id=job_id, text="a zoom", purge_after=utcnow()))
    store.put_bytes(key, b"an uploaded image")
    assert jobs.claim("worker-that-dies") is not None
    recovered = jobs.recover_expired(now=utcnow() + timedelta(seconds=5))
    assert [(r.job_id, r.action) for r in recovered] == [(job_id, "failed")]
    assert store.list("inputs") == []
    engine.dispose()
