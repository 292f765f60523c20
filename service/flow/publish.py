"""Artifacts through the configured storage (`veriframe.service.storage`).

With the local default nothing moves: outputs stay where the provenance step wrote them
(`output_dir/TENANT/JOB/`) and rows keep absolute paths. With an object store, the worker uploads the
signed video and frames under `TENANT/JOB/...` keys and keeps no copy; uploaded i2v/v2v inputs go to
`inputs/JOB.img|mp4`; any API server's Download fetches from the store, so it works on every host.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from veriframe.service.storage import LocalStorage


def remote(services: Any) -> bool:
    return services.storage is not None and not isinstance(services.storage, LocalStorage)


def publish(services: Any, job: Any, marked: Any) -> Any:
    """The Marked outputs as the job row records them: local paths, or the object store's keys."""
    if not remote(services):
        return marked
    prefix = f"{job.tenant}/{job.id}"
    services.storage.put_file(f"{prefix}/video.mp4", marked.video)
    frames = None
    if marked.frames_dir is not None:
        for frame in sorted(Path(marked.frames_dir).glob("*.png")):
            services.storage.put_file(f"{prefix}/frames/{frame.name}", frame)
        frames = Path(f"{prefix}/frames")
    return dataclasses.replace(marked, video=Path(f"{prefix}/video.mp4"), frames_dir=frames)


def unpublish(services: Any, job: Any) -> None:
    """Remove what `publish` uploaded (a lease lost after the upload)."""
    if remote(services):
        services.storage.delete_prefix(f"{job.tenant}/{job.id}")


def store_input(services: Any, job_id: str, suffix: str, data: bytes) -> str:
    """Keep an uploaded input for the worker; returns what `input_file` records."""
    if remote(services):
        key = f"inputs/{job_id}.{suffix}"
        services.storage.put_bytes(key, data)
        return key
    path = services.output_dir / "inputs" / f"{job_id}.{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


@contextlib.contextmanager
def local_copy(services: Any, recorded: str) -> Iterator[Path]:
    """A local file for a recorded artifact: the file itself, or a temporary copy from the store."""
    if not remote(services) or Path(recorded).is_absolute():
        yield Path(recorded)
        return
    scratch = Path(tempfile.mkdtemp(prefix="veriframe-"))
    try:
        yield services.storage.fetch(recorded, scratch / Path(recorded).name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def fetch_for_download(services: Any, recorded: str) -> tuple[Path, bool]:
    """(local path, delete it after sending?) for Download."""
    if not remote(services) or Path(recorded).is_absolute():
        return Path(recorded), False
    handle, name = tempfile.mkstemp(prefix="veriframe-dl-", suffix=Path(recorded).suffix)
    import os

    os.close(handle)
    return services.storage.fetch(recorded, Path(name)), True


def frame_keys(services: Any, frames_dir: str) -> list[str]:
    """The recorded frames of a job, in order: local paths or object keys."""
    if not remote(services) or Path(frames_dir).is_absolute():
        return [str(p) for p in sorted(Path(frames_dir).glob("*.png"))]
    return [key for key in services.storage.list(frames_dir) if key.endswith(".png")]
