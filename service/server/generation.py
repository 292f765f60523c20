"""The Generation service: thin translation between protobuf and `veriframe.service.flow`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import timestamp_pb2
from sqlalchemy import select

from veriframe.service.api.gen import common_pb2, generation_pb2, generation_pb2_grpc
from veriframe.service.auth import Principal
from veriframe.service.db import AuditEvent, ReviewItem
from veriframe.service.errors import InvalidArgument
from veriframe.service.ledger import events as ev
from veriframe.service.server import convert
from veriframe.service.server.errors import rpc
from veriframe.service.store import states as S

if TYPE_CHECKING:
    from veriframe.service.server.context import ServerContext

DEFAULT_CHUNK = 1024 * 1024
MAX_CHUNK = 3 * 1024 * 1024
POLL_S = 1.0  # changes made by other processes are seen within this (local ones at once)
WHAT = {
    generation_pb2.DownloadRequest.WHAT_UNSPECIFIED: "video",
    generation_pb2.DownloadRequest.WHAT_VIDEO: "video",
    generation_pb2.DownloadRequest.WHAT_FRAMES_ZIP: "frames_zip",
    generation_pb2.DownloadRequest.WHAT_FRAME: "frame",
}



class GenerationServicer(generation_pb2_grpc.GenerationServicer):
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def _job_message(self, row: Any) -> common_pb2.Job:
        def extras() -> tuple[str, int | None]:
            with self.ctx.sessions() as s:
                review = s.scalar(select(ReviewItem.id).where(ReviewItem.job_id == row.id))
                seq = None
                if row.state == S.SUCCEEDED:
                    seq = s.scalar(
                        select(AuditEvent.seq).where(
                            AuditEvent.job_id == row.id, AuditEvent.event_type == ev.GENERATED
                        )
                    )
            return review or "", seq

        review_id, seq = await asyncio.to_thread(extras)
        return convert.job(row, review_id=review_id, generated_seq=seq)

    @rpc
    async def Submit(
        self, request: generation_pb2.SubmitRequest, context: grpc.aio.ServicerContext, principal: Principal
    ) -> generation_pb2.SubmitResponse:
        submission = convert.submit_input(request)
        submitted = await asyncio.to_thread(self.ctx.workflow.submit, principal, submission)
        if submitted.job.state == S.QUEUED:
            self.ctx.wake_workers()
        return generation_pb2.SubmitResponse(
            job=await self._job_message(submitted.job), deduplicated=submitted.deduplicated
        )

    @rpc
    async def GetJob(
        self, request: generation_pb2.GetJobRequest, context: grpc.aio.ServicerContext, principal: Principal
    ) -> common_pb2.Job:
        row = await asyncio.to_thread(self.ctx.store.get, request.job_id, tenant=principal.tenant)
        return await self._job_message(row)

    @rpc
    async def ListJobs(
        self, request: generation_pb2.ListJobsRequest, context: grpc.aio.ServicerContext, principal: Principal
    ) -> generation_pb2.ListJobsResponse:
        if request.page_size > 500:
            raise InvalidArgument("page_size", "at most 500")
        rows, token = await asyncio.to_thread(
            self.ctx.store.list,
            tenant=principal.tenant,
            page_size=request.page_size,
            page_token=request.page_token,
            states=convert.db_states(list(request.states)),
        )
        return generation_pb2.ListJobsResponse(jobs=[convert.job(r) for r in rows], next_page_token=token)

    @rpc
    async def CancelJob(
        self,
        request: generation_pb2.CancelJobRequest,
        context: grpc.aio.ServicerContext,
        principal: Principal,
    ) -> common_pb2.Job:
        row = await asyncio.to_thread(self.ctx.workflow.cancel, principal, request.job_id)
        self.ctx.notifier.notify(row.id)
        return await self._job_message(row)

    @rpc
    async def StreamEvents(
        self,
        request: generation_pb2.StreamEventsRequest,
        context: grpc.aio.ServicerContext,
        principal: Principal,
    ) -> AsyncIterator[generation_pb2.JobEvent]:
        row = await asyncio.to_thread(self.ctx.store.get, request.job_id, tenant=principal.tenant)
        kind = generation_pb2.JobEvent.KIND_SNAPSHOT
        last: tuple[str, int, int] | None = None
        while True:
            key = (row.state, row.progress_step or 0, row.progress_total or 0)
            if key != last:
                if last is not None:
                    if row.state in (S.FAILED, S.REJECTED):
                        kind = generation_pb2.JobEvent.KIND_ERROR
                    elif row.state != last[0]:
                        kind = generation_pb2.JobEvent.KIND_STATE_CHANGED
                    else:
                        kind = generation_pb2.JobEvent.KIND_PROGRESS
                message = await self._job_message(row)
                now = timestamp_pb2.Timestamp()
                now.GetCurrentTime()
                yield generation_pb2.JobEvent(
                    kind=kind,
                    job_id=row.id,
                    state=message.state,
                    progress=message.progress,
                    error=message.error,
                    job=message,
                    time=now,
                )
                last = key
            if row.state in S.TERMINAL:
                return
            await self.ctx.notifier.wait(row.id, POLL_S)
            row = await asyncio.to_thread(self.ctx.store.get, row.id)

    @rpc
    async def Download(
        self, request: generation_pb2.DownloadRequest, context: grpc.aio.ServicerContext, principal: Principal
    ) -> AsyncIterator[generation_pb2.DownloadChunk]:
        if request.what not in WHAT:
            raise InvalidArgument("what", f"unknown value {request.what}")
        chunk_size = request.chunk_size or DEFAULT_CHUNK
        if not 1024 <= chunk_size <= MAX_CHUNK:
            raise InvalidArgument("chunk_size", f"between 1024 and {MAX_CHUNK} bytes")
        art = await asyncio.to_thread(
            self.ctx.workflow.artifact, principal, request.job_id, WHAT[request.what], request.frame_index
        )
        try:
            total = art.path.stat().st_size
            with open(art.path, "rb") as handle:
                offset = 0
                first = True
                while True:
                    data = await asyncio.to_thread(handle.read, chunk_size)
                    if not data and not first:
                        return
                    chunk = generation_pb2.DownloadChunk(data=data, offset=offset)
                    if first:
                        chunk.total_size, chunk.filename, chunk.content_type = (
                            total,
                            art.filename,
                            art.content_type,
                        )
                        chunk.sha256, chunk.provenance_id = art.sha256, art.provenance_id
                        first = False
                    yield chunk
                    offset += len(data)
                    if offset >= total:
                        return
        finally:
            if art.cleanup:
                art.path.unlink(missing_ok=True)
