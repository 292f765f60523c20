"""The asyncio client: the same calls as `Client`, awaitable.

The two clients must stay alike: everything but the call plumbing (requests, checks, results, errors,
connection options) is shared in `common.py` and `errors.py`; a method added to one is added to both.

async with AsyncClient("127.0.0.1:50051", api_key="vf_...") as client:
    result = await client.generate("a red fox running through snow", output="out/")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from veriframe.service.api.gen import (
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

ProgressCallback = Callable[[Progress], Awaitable[None] | None]


class AsyncClient(ClientBase):
    _grpc = grpc.aio  # the constructor is ClientBase's

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, E.Unavailable)),
            stop=stop_after_attempt(self.retries),
            wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
            reraise=True,
        )

    async def call(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None, retry: bool = True
    ) -> Any:
        async def once() -> Any:
            try:
                return await method(
                    request, timeout=timeout or self.timeout, metadata=self.options.metadata()
                )
            except grpc.RpcError as error:
                raise E.from_rpc_error(error) from None

        if not retry:
            return await once()
        async for attempt in self._retrying():
            with attempt:
                return await once()
        raise AssertionError("unreachable")

    async def stream(
        self, method: Callable[..., Any], request: Any, *, timeout: float | None = None
    ) -> AsyncIterator[Any]:
        try:
            async for item in method(request, timeout=timeout, metadata=self.options.metadata()):
                yield item
        except grpc.RpcError as error:
            raise E.from_rpc_error(error) from None

    async def submit(self, prompt: str, **kwargs: Any) -> Submitted:
        return Submitted.from_proto(await self.call(self.generation.Submit, submit_request(prompt, **kwargs)))

    async def get_job(self, job_id: str) -> Job:
        request = generation_pb2.GetJobRequest(job_id=check_job_id(job_id))
        return Job.from_proto(await self.call(self.generation.GetJob, request))

    async def list_jobs(
        self, *, page_size: int = 50, page_token: str = "", states: list[int | str] | None = None
    ) -> JobPage:
        return JobPage.from_proto(
            await self.call(self.generation.ListJobs, list_request(page_size, page_token, states))
        )

    async def cancel_job(self, job_id: str) -> Job:
        request = generation_pb2.CancelJobRequest(job_id=check_job_id(job_id))
        return Job.from_proto(await self.call(self.generation.CancelJob, request))

    async def events(self, job_id: str, *, timeout: float | None = None) -> AsyncIterator[JobEvent]:
        async for attempt in self._retrying():
            with attempt:
                seen_terminal = False
                async for event in self.stream(
                    self.generation.StreamEvents,
                    generation_pb2.StreamEventsRequest(job_id=check_job_id(job_id)),
                    timeout=timeout,
                ):
                    seen_terminal = event.state in TERMINAL
                    yield JobEvent.from_proto(event)
                if not seen_terminal:
                    raise E.Unavailable("the event stream ended before the job did")
            return

    async def progress(self, job_id: str, *, timeout: float | None = None) -> AsyncIterator[Progress]:
        async for event in self.events(job_id, timeout=timeout):
            yield progress_of(event)

    async def wait(
        self, job_id: str, *, on_progress: ProgressCallback | None = None, timeout: float | None = None
    ) -> Job:
        last = None
        async for update in self.progress(job_id, timeout=timeout):
            last = update
            if on_progress is not None:
                result = on_progress(update)
                if result is not None:
                    await result
        return last.job if last is not None else await self.get_job(job_id)

    async def download(
        self,
        job_id: str,
        dest: str | Path,
        *,
        what: str = "video",
        frame_index: int = 0,
        chunk_size: int = 0,
        timeout: float | None = None,
    ) -> Path:
        if what not in WHAT:
            raise E.InvalidArgument(f"what must be one of {', '.join(WHAT)}", field="what")
        request = generation_pb2.DownloadRequest(
            job_id=check_job_id(job_id), what=WHAT[what], frame_index=frame_index, chunk_size=chunk_size
        )
        async for attempt in self._retrying():
            with attempt:
                sink = Sink(dest)
                try:
                    async for chunk in self.stream(self.generation.Download, request, timeout=timeout):
                        sink.write(chunk)
                    return sink.finish()
                except BaseException:
                    sink.abort()
                    raise
        raise AssertionError("unreachable")

    async def verify(
        self,
        file: str | Path | bytes,
        *,
        filename: str = "upload.mp4",
        prompt: str = "",
        timeout: float | None = None,
    ) -> Verification:
        if not isinstance(file, bytes):
            filename = Path(file).name
            file = Path(file).read_bytes()
        parts = verify_requests(file, filename, prompt)
        async for attempt in self._retrying():
            with attempt:
                try:
                    reply = await self.verification.Verify(
                        iter(parts),
                        timeout=timeout or max(self.timeout, 120.0),
                        metadata=self.options.metadata(),
                    )
                    return Verification.from_response(reply)
                except grpc.RpcError as error:
                    raise E.from_rpc_error(error) from None
        raise AssertionError("unreachable")

    async def generate(
        self,
        prompt: str,
        *,
        output: str | Path = ".",
        on_progress: ProgressCallback | None = None,
        verify: bool = True,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> GenerationResult:
        submitted = await self.submit(prompt, **kwargs)
        job = await self.wait(submitted.job.id, on_progress=on_progress, timeout=timeout)
        if job.state != "SUCCEEDED":
            raise E.JobFailed(ended_without_video(job), job=job)
        path = await self.download(job.id, output)
        frames = None
        if kwargs.get("return_frames"):
            frames = await self.download(
                job.id, Path(output) if Path(output).is_dir() else Path(output).parent, what="frames_zip"
            )
        summary = (await self.verify(path)).summary() if verify else None
        return GenerationResult(
            job_id=job.id,
            path=path,
            provenance_id=job.provenance_id,
            sha256=job.output.video_sha256,
            job=job,
            verification=summary,
            frames_path=frames,
        )
