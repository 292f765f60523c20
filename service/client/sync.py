"""The blocking client.

from veriframe.service.client import Client
with Client("127.0.0.1:50051", api_key="vf_...") as client:
    result = client.generate("a red fox running through snow", output="out/", on_progress=print)
    print(result.path, result.provenance_id, result.verification.verdict)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from veriframe.service.api.gen import (
    admin_pb2,
    common_pb2,
    generation_pb2,
)
from veriframe.service.client import errors as E
from veriframe.service.client.common import (
    TERMINAL,
    WHAT,
    ClientBase,
    GenerationResult,
    Progress,
    Sink,
    Verification,
    check_job_id,
    ended_without_video,
    list_request,
    progress_of,
    submit_request,
    verify_requests,
)
from veriframe.service.client.job import Job, JobEvent, JobPage, Submitted


def _retryable(error: BaseException) -> bool:
    return isinstance(error, E.Unavailable)


class Client(ClientBase):
    """A Veriframe client over one channel. Thread-safe; close it (or use `with`).

    `timeout`: the deadline of each unary call in seconds. `retries`: attempts on UNAVAILABLE, with
    exponential backoff and jitter (Submit is safe to retry: it always carries an idempotency key).
    """

    _grpc = grpc  # the constructor is ClientBase's

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------

    def call(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None, retry: bool = True
    ) -> Any:
        """Run a unary RPC with the key, the deadline, retries on UNAVAILABLE and typed errors.
        (The admin tool calls `client.call(client.admin.ListReviews, request)`.)"""

        def once() -> Any:
            try:
                return method(request, timeout=timeout or self.timeout, metadata=self.options.metadata())
            except grpc.RpcError as error:
                raise E.from_rpc_error(error) from None

        if not retry:
            return once()
        for attempt in self._retrying():
            with attempt:
                return once()
        raise AssertionError("unreachable")

    def stream(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None
    ) -> Iterator[Any]:
        """A server-streaming RPC with typed errors (no automatic retry: the caller knows what to resume)."""
        try:
            yield from method(request, timeout=timeout, metadata=self.options.metadata())
        except grpc.RpcError as error:
            raise E.from_rpc_error(error) from None

    def _retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.retries),
            wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
            reraise=True,
        )

    # --- generation -----------------------------------------------------------------------------

    def submit(self, prompt: str, **kwargs: Any) -> Submitted:
        """Screen and queue a job. Keyword arguments: see `veriframe.service.client.common.submit_request`.
        Raises PromptBlocked (with .categories), InvalidArgument (with .field), RateLimited..."""
        return Submitted.from_proto(self.call(self.generation.Submit, submit_request(prompt, **kwargs)))

    def get_job(self, job_id: str) -> Job:
        """One of your tenant's jobs (NotFound for any other)."""
        request = generation_pb2.GetJobRequest(job_id=check_job_id(job_id))
        return Job.from_proto(self.call(self.generation.GetJob, request))

    def list_jobs(
        self, *, page_size: int = 50, page_token: str = "", states: list[int | str] | None = None
    ) -> JobPage:
        """One page of your tenant's jobs, newest first; `states`: JobState names or enum values."""
        return JobPage.from_proto(
            self.call(self.generation.ListJobs, list_request(page_size, page_token, states))
        )

    def iter_jobs(self, *, page_size: int = 100) -> Iterator[Job]:
        token = ""
        while True:
            page = self.list_jobs(page_size=page_size, page_token=token)
            yield from page.jobs
            token = page.next_page_token
            if not token:
                return

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a job that has not ended (a running one stops between steps); returns it."""
        request = generation_pb2.CancelJobRequest(job_id=check_job_id(job_id))
        return Job.from_proto(self.call(self.generation.CancelJob, request))

    def events(self, job_id: str, *, timeout: float | None = None) -> Iterator[JobEvent]:
        """The job's events until it ends; reconnects (with backoff) if the server goes away meanwhile."""
        for attempt in self._retrying():
            with attempt:
                seen_terminal = False
                for event in self.stream(
                    self.generation.StreamEvents,
                    generation_pb2.StreamEventsRequest(job_id=check_job_id(job_id)),
                    timeout=timeout,
                ):
                    seen_terminal = event.state in TERMINAL
                    yield JobEvent.from_proto(event)
                if seen_terminal:
                    return
                raise E.Unavailable("the event stream ended before the job did")

    def progress(self, job_id: str, *, timeout: float | None = None) -> Iterator[Progress]:
        """Progress updates (state, step i of N) until the job ends."""
        for event in self.events(job_id, timeout=timeout):
            yield progress_of(event)

    def wait(
        self,
        job_id: str,
        *,
        on_progress: Callable[[Progress], None] | None = None,
        timeout: float | None = None,
    ) -> Job:
        """Block until the job ends; returns the final job."""
        last = None
        for update in self.progress(job_id, timeout=timeout):
            last = update
            if on_progress is not None:
                on_progress(update)
        return last.job if last is not None else self.get_job(job_id)

    def download(
        self,
        job_id: str,
        dest: str | Path,
        *,
        what: str = "video",
        frame_index: int = 0,
        chunk_size: int = 0,
        timeout: float | None = None,
    ) -> Path:
        """Save the signed MP4 (or "frames_zip" / "frame") to `dest` (a file, or a directory);
        checks the SHA-256 the server announced. Retried from the start on UNAVAILABLE."""
        if what not in WHAT:
            raise E.InvalidArgument(f"what must be one of {', '.join(WHAT)}", field="what")
        request = generation_pb2.DownloadRequest(
            job_id=check_job_id(job_id), what=WHAT[what], frame_index=frame_index, chunk_size=chunk_size
        )
        for attempt in self._retrying():
            with attempt:
                sink = Sink(dest)
                try:
                    for chunk in self.stream(self.generation.Download, request, timeout=timeout):
                        sink.write(chunk)
                    return sink.finish()
                except BaseException:
                    sink.abort()
                    raise
        raise AssertionError("unreachable")

    # --- verification ---------------------------------------------------------------------------

    def verify(
        self,
        file: str | Path | bytes,
        *,
        filename: str = "upload.mp4",
        prompt: str = "",
        timeout: float | None = None,
    ) -> Verification:
        """Server-side verification (watermark, C2PA, trust) plus the ledger record and its proof.

        `prompt`: the job's owner can have the server confirm the video was made from it
        (`.prompt_check`: "matches" / "does_not_match" / "not_checked", `.prompt_check_reason`)."""
        if not isinstance(file, bytes):
            filename = Path(file).name
            file = Path(file).read_bytes()
        parts = verify_requests(file, filename, prompt)
        for attempt in self._retrying():
            with attempt:
                try:
                    reply = self.verification.Verify(
                        iter(parts),
                        timeout=timeout or max(self.timeout, 120.0),
                        metadata=self.options.metadata(),
                    )
                    return Verification.from_response(reply)
                except grpc.RpcError as error:
                    raise E.from_rpc_error(error) from None
        raise AssertionError("unreachable")

    def latest_checkpoint(self) -> common_pb2.Checkpoint:
        """The ledger's signed checkpoint over its whole log (check `note` locally, with the pinned key)."""
        return self.call(self.admin.GetLatestCheckpoint, admin_pb2.GetLatestCheckpointRequest())

    def consistency_proof(self, first_size: int, second_size: int = 0) -> common_pb2.ConsistencyProof:
        """Proof that the tree of `second_size` leaves (0: current) extends the one of `first_size`."""
        request = admin_pb2.GetConsistencyProofRequest(first_size=first_size, second_size=second_size)
        return self.call(self.admin.GetConsistencyProof, request)

    # --- all of it ------------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        *,
        output: str | Path = ".",
        on_progress: Callable[[Progress], None] | None = None,
        verify: bool = True,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> GenerationResult:
        """Submit, follow, download the signed video into `output` (file or directory), verify it.

        Raises PromptBlocked when screening blocks the prompt, JobFailed when the job ends without a
        video (failed, rejected by a moderator, cancelled). A prompt held for review waits for the
        moderator's decision (bounded by `timeout`, default none)."""
        submitted = self.submit(prompt, **kwargs)
        job = self.wait(submitted.job.id, on_progress=on_progress, timeout=timeout)
        if job.state != "SUCCEEDED":
            raise E.JobFailed(ended_without_video(job), job=job)
        path = self.download(job.id, output)
        frames = None
        if kwargs.get("return_frames"):
            frames = self.download(
                job.id, Path(output) if Path(output).is_dir() else Path(output).parent, what="frames_zip"
            )
        summary = self.verify(path).summary() if verify else None
        return GenerationResult(
            job_id=job.id,
            path=path,
            provenance_id=job.provenance_id,
            sha256=job.output.video_sha256,
            job=job,
            verification=summary,
            frames_path=frames,
        )
