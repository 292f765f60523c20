"""Download's step: which file of a finished job to send, recorded in the ledger as downloaded."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from veriframe.service.errors import FailedPrecondition, InvalidArgument
from veriframe.service.flow import publish
from veriframe.service.flow.types import Artifact, Services, sha256_file
from veriframe.service.ledger import events as ev
from veriframe.service.storage import ArtifactMissing
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from veriframe.service.auth import Principal
    from veriframe.service.db import Job

WHATS = ("video", "frames_zip", "frame")


def artifact(
    services: Services, principal: Principal, job_id: str, what: str, frame_index: int = 0
) -> Artifact:
    """The file to send for Download (one of WHATS), recorded as downloaded."""
    job = services.store.get(job_id, tenant=principal.tenant)
    if job.state != S.SUCCEEDED or not job.output_path:
        raise FailedPrecondition(
            f"job {job.id} has no video: it is {S.API_STATE[job.state]}", reason="NOT_READY"
        )
    try:
        if what == "video":
            path, temporary = publish.fetch_for_download(services, job.output_path)
            sha, pid = job.output_sha256 or "", job.provenance_id or ""
            art = Artifact(path, f"{job.id}.mp4", "video/mp4", sha, pid, temporary)
        else:
            art = _frames(services, job, what, frame_index)
    except ArtifactMissing:
        message = f"the output of job {job.id} is missing from storage"
        raise FailedPrecondition(message, reason="NO_OUTPUT") from None
    if not art.path.is_file():
        raise FailedPrecondition(f"the output of job {job.id} is missing on this server", reason="NO_OUTPUT")
    services.ledger.append(
        ev.DOWNLOADED,
        ev.downloaded(api_key_id=principal.key_id, output_sha256=art.sha256, artifact=what),
        actor=principal.key_id,
        tenant=job.tenant,
        job_id=job.id,
    )
    return art


def _frames(services: Services, job: Job, what: str, frame_index: int) -> Artifact:
    if not job.frames_dir:
        raise FailedPrecondition("this job was submitted without return_frames", reason="NO_FRAMES")
    frames = publish.frame_keys(services, job.frames_dir)
    if what != "frame":
        return _zip_frames(services, job, frames)
    if not 0 <= frame_index < len(frames):
        raise InvalidArgument("frame_index", f"must be in [0, {len(frames)})")
    path, temporary = publish.fetch_for_download(services, frames[frame_index])
    name = Path(frames[frame_index]).name
    return Artifact(path, name, "image/png", sha256_file(path), job.provenance_id or "", temporary)


def _zip_frames(services: Services, job: Job, frames: list[str]) -> Artifact:
    descriptor, name = tempfile.mkstemp(prefix=f"{job.id}-", suffix=".zip")
    os.close(descriptor)
    path = Path(name)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for frame in frames:  # PNGs are compressed already; signed bytes must stay untouched
            with publish.local_copy(services, frame) as local:
                archive.write(local, Path(frame).name)
    return Artifact(
        path,
        f"{job.id}-frames.zip",
        "application/zip",
        sha256_file(path),
        job.provenance_id or "",
        cleanup=True,
    )
