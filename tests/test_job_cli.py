"""Following jobs from the command line, as a user does: `veriframe generate --server` prints the job id
and says when a job is held; another process (`veriframe job wait`) follows the held job through a
moderator's approval (admin SDK) to its download; get, list, download, cancel; exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
REVIEWED = "Barack Obama giving a speech in a sunny park"
SIZE = ["--width", "256", "--height", "256", "--num-frames", "9", "--num-inference-steps", "2"]


def veriframe(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "veriframe"), *args], capture_output=True, text=True, timeout=timeout, env=_env()
    )


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "80"}


@pytest.fixture(scope="module")
def conn(live_server) -> list[str]:
    return ["--server", live_server.address, "--api-key", live_server.key("client", "follow")]


def test_a_held_job_is_followed_from_another_process_to_its_download(live_server, conn, tmp_path) -> None:
    from veriframe.service.client.admin import AdminClient

    submitted = veriframe("generate", REVIEWED, *SIZE, *conn, "--no-wait", "--json")
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)  # one JSON object on stdout
    assert job["state"] == "REVIEW" and job["job_id"] and job["review_id"]
    assert f"job {job['job_id']} accepted" in submitted.stderr
    assert (
        "held for human review" in submitted.stderr
        and f"veriframe job wait {job['job_id']}" in submitted.stderr
    )

    dest = tmp_path / "downloads"  # does not exist: the trailing slash says "a directory"
    waiter = subprocess.Popen(
        [str(BIN / "veriframe"), "job", "wait", job["job_id"], *conn, "-o", f"{dest}/", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        time.sleep(2)
        assert waiter.poll() is None  # still waiting for the moderator
        with AdminClient(live_server.address, api_key=live_server.key("moderator", "staff")) as admin:
            admin.approve_review(job["review_id"], reason="a public figure in a neutral setting")
        out, err = waiter.communicate(timeout=300)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, err
    final = json.loads(out)
    assert final["state"] == "SUCCEEDED" and final["provenance_id"] and final["job_id"] == job["job_id"]
    saved = Path(final["path"])
    assert saved.parent == dest and saved.stat().st_size > 0

    got = veriframe("job", "get", job["job_id"], *conn, "--json")
    assert got.returncode == 0 and json.loads(got.stdout)["state"] == "SUCCEEDED"
    listed = veriframe("job", "list", "--state", "succeeded", *conn, "--json")
    assert job["job_id"] in [j["job_id"] for j in json.loads(listed.stdout)]
    again = veriframe("job", "download", job["job_id"], "-o", f"{tmp_path / 'again'}/", *conn)
    assert again.returncode == 0 and (tmp_path / "again" / saved.name).read_bytes() == saved.read_bytes()


def test_waiting_on_a_held_job_times_out_with_exit_4_and_cancel_ends_it(conn, tmp_path) -> None:
    held = veriframe("generate", REVIEWED, *SIZE, *conn, "-o", f"{tmp_path}/", "--timeout", "2", "--json")
    assert held.returncode == 4, held.stderr
    job = json.loads(held.stdout)
    assert job["state"] == "REVIEW" and "held for human review" in held.stderr
    waited = veriframe("job", "wait", job["job_id"], *conn, "--timeout", "1")
    assert waited.returncode == 4 and "review" in waited.stdout
    cancelled = veriframe("job", "cancel", job["job_id"], *conn, "--json")
    assert cancelled.returncode == 0 and json.loads(cancelled.stdout)["state"] == "CANCELLED"
    assert veriframe("job", "wait", job["job_id"], *conn).returncode == 1  # ended without a video


def test_bad_input_is_answered_before_any_progress_bar(conn, tmp_path) -> None:
    negative = veriframe("generate", "a fox", *conn, "--width", "-5")
    assert negative.returncode == 2 and "Invalid value for '--width'" in negative.stderr
    assert "greater than or equal to 1" in negative.stderr
    odd = veriframe("generate", "a fox", *conn, "--width", "100", "--height", "256")
    assert odd.returncode == 2 and "width" in odd.stderr and "multiple of 16" in odd.stderr
    assert "submitting" not in odd.stderr and "accepted" not in odd.stderr
    missing = veriframe("job", "get", "00000000-0000-4000-8000-000000000000", *conn)
    assert missing.returncode == 1 and "not found" in missing.stderr
    refused = veriframe("job", "list", "--server", conn[1], "--api-key", "vf_000000000000_nope")
    assert refused.returncode == 3 and "Unauthenticated" in refused.stderr
    unknown_state = veriframe("job", "list", "--state", "sleeping", *conn)
    assert unknown_state.returncode == 2 and "review" in unknown_state.stderr


def test_every_public_sdk_method_is_documented_with_an_example() -> None:
    import re

    from veriframe.service.client import Client

    doc = (Path(__file__).parents[1] / "docs" / "sdk.md").read_text()
    sections = re.split(r"^### ", doc, flags=re.M)[1:]
    documented = {}
    for section in sections:
        name = re.match(r"`client\.(\w+)\(", section)
        if name:
            documented[name.group(1)] = section
    public = {m for m in dir(Client) if not m.startswith("_")}
    assert public <= set(documented), public - set(documented)
    assert all("```python" in documented[m] for m in public)


def test_the_sdk_takes_diffusers_names_and_warns_on_the_old_ones() -> None:
    from veriframe.service.client import InvalidArgument
    from veriframe.service.client.common import submit_request

    new = submit_request("a fox", num_inference_steps=4, guidance_scale=6.0, num_frames=9).params
    with pytest.warns(DeprecationWarning, match="steps= is deprecated: use num_inference_steps="):
        old = submit_request("a fox", steps=4, guidance=6.0, frames=9).params
    assert (old.num_inference_steps, old.guidance_scale, old.num_frames) == (4, 6.0, 9)
    assert (new.num_inference_steps, new.guidance_scale, new.num_frames) == (4, 6.0, 9)
    with pytest.warns(DeprecationWarning), pytest.raises(InvalidArgument) as caught:
        submit_request("a fox", num_frames=9, frames=17)
    assert caught.value.field == "params.num_frames"


def test_sdk_results_are_typed_and_still_read_like_the_protobuf_messages() -> None:
    """SDK v1 returns dataclasses; code written against the raw messages keeps working."""
    from veriframe.service.api.gen import common_pb2, generation_pb2
    from veriframe.service.client import Job, JobEvent, JobPage, Submitted

    message = common_pb2.Job(
        id="6c1e0d2a-0000-0000-0000-000000000001", tenant="acme", state=common_pb2.JOB_STATE_SUCCEEDED,
        mode=common_pb2.MODE_I2V, progress=common_pb2.Progress(step=4, total_steps=4), attempts=2,
        return_frames=True, output=common_pb2.JobOutput(video_sha256="ab" * 32, video_size=12345),
    )
    job = Job.from_proto(message)
    assert (job.state, job.mode, job.progress, job.error) == ("SUCCEEDED", "i2v", (4, 4), None)
    assert job.output.video_size == 12345 and job.video_sha256 == "ab" * 32 and job.ended
    assert job.state == common_pb2.JOB_STATE_SUCCEEDED and job.state != common_pb2.JOB_STATE_FAILED
    assert job.mode == common_pb2.MODE_I2V and job.progress.step == 4
    assert job.return_frames is True  # not a typed field: read from the message
    assert Job.from_proto(job) is job
    assert json.loads(json.dumps(job.as_dict()))["state"] == "SUCCEEDED"

    submitted = Submitted.from_proto(generation_pb2.SubmitResponse(job=message, deduplicated=True))
    assert submitted.job == job and submitted.deduplicated
    page = JobPage.from_proto(generation_pb2.ListJobsResponse(jobs=[message], next_page_token="t"))
    assert page.jobs == [job] and page.next_page_token == "t"
    event = JobEvent.from_proto(generation_pb2.JobEvent(
        kind=generation_pb2.JobEvent.KIND_PROGRESS, job_id=job.id, state=common_pb2.JOB_STATE_RUNNING,
        progress=common_pb2.Progress(step=1, total_steps=4), job=message,
    ))
    assert (event.kind, event.state, event.progress.step, event.job) == ("PROGRESS", "RUNNING", 1, job)
    assert event.kind == generation_pb2.JobEvent.KIND_PROGRESS
