"""Following a job from the command line: shared by `veriframe job wait` and `veriframe generate --server`.

It prints the job id at once, each state change on its own line, and a plain explanation when the job
is held for human review (nothing runs until a moderator decides; how to follow it from elsewhere).
A progress bar is drawn only on a terminal and only once the job is accepted.
"""

from __future__ import annotations

import time
from typing import Any

from veriframe.service.client.job import Job

# Exit codes shared by `veriframe job ...` and `veriframe generate --server` (docs/service.md).
EXIT_OK = 0  # done (wait/generate: the job SUCCEEDED and, for generate, the video verified)
EXIT_NEGATIVE = 1  # blocked, rejected, failed, cancelled, not found, rate limited, not verified
EXIT_USAGE = 2  # invalid input or usage; the server unreachable or failing
EXIT_DENIED = 3  # the key was refused (unauthenticated, permission denied)
EXIT_PENDING = 4  # --timeout passed (or --no-wait) and the job has not ended: follow it later

HELD = (
    "job {id} is held for human review{why}: nothing runs until a moderator approves or rejects it "
    "(this can take up to the review time limit).\n"
    "  follow it later:  veriframe job wait {id} --server {server}\n"
    "  then fetch it:    veriframe job download {id} -o DEST --server {server}"
)


def held_message(job: Job, server: str) -> str:
    why = f" ({', '.join(job.error.categories)})" if job.error and job.error.categories else ""
    return HELD.format(id=job.id, server=server, why=why)


def follow(client: Any, job: Job, *, console: Any, server: str, timeout: float | None, bar: bool) -> Job:
    """Follow `job` until it ends or `timeout` seconds pass; returns the latest Job seen."""
    from veriframe.service.client import DeadlineExceeded

    deadline = None if timeout is None else time.monotonic() + timeout
    last_state = job.state
    if job.held:
        console.print(held_message(job, server))
    if job.ended:
        return job
    progress = _bar(console) if bar else None
    task = progress.add_task(job.state.lower(), total=None) if progress else None
    try:
        if progress:
            progress.start()
        for event in client.events(job.id, timeout=None if deadline is None else deadline - time.monotonic()):
            job = event.job
            if job.state != last_state:
                console.print(f"job {job.id}: {job.state.lower()}")
                if job.held:
                    console.print(held_message(job, server))
                last_state = job.state
            if progress:
                done, total = job.progress
                progress.update(task, description=job.state.lower(), completed=done, total=total or None)
        return job
    except DeadlineExceeded:
        return client.get_job(job.id)
    finally:
        if progress:
            progress.stop()


def _bar(console: Any) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        auto_refresh=True,
    )


def outcome_code(job: Job) -> int:
    if job.state == "SUCCEEDED":
        return EXIT_OK
    return EXIT_NEGATIVE if job.ended else EXIT_PENDING


def describe(job: Job) -> str:
    """One line a person reads: state, progress, error, provenance."""
    parts = [f"job {job.id}", job.state.lower()]
    if job.state == "RUNNING" and job.total_steps:
        parts.append(f"step {job.step}/{job.total_steps}")
    if job.error is not None:
        parts.append(f"{job.error.code}: {job.error.message}")
    if job.provenance_id:
        parts.append(f"provenance id {job.provenance_id}")
    return "  ".join(parts)
