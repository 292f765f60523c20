"""Artifact storage: the local directory and a real S3-compatible server (SeaweedFS) behave alike."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from veriframe.service.storage import ArtifactMissing, LocalStorage, ObjectStorage


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    server = request.getfixturevalue("s3_server")
    return ObjectStorage(f"s3://veriframe-{uuid.uuid4().hex[:8]}/artifacts", server["options"])


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
