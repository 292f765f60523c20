"""The Verification service: a client-streamed upload checked like `veriframe-verify`, plus the ledger."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc

from veriframe.service.api.gen import verification_pb2, verification_pb2_grpc
from veriframe.service.auth import Principal
from veriframe.service.errors import InvalidArgument
from veriframe.service.server import convert
from veriframe.service.server.errors import rpc

if TYPE_CHECKING:
    from veriframe.service.server.context import ServerContext

log = logging.getLogger(__name__)
SUFFIXES = {"video/mp4": ".mp4", "image/png": ".png", "image/jpeg": ".jpg"}



class VerificationServicer(verification_pb2_grpc.VerificationServicer):
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    @rpc
    async def Verify(
        self,
        request: AsyncIterator[verification_pb2.VerifyRequest],
        context: grpc.aio.ServicerContext,
        principal: Principal,
    ) -> verification_pb2.VerifyResponse:
        limit = self.ctx.settings.max_verify_upload_mb * 1024 * 1024
        header: verification_pb2.VerifyHeader | None = None
        with tempfile.TemporaryDirectory(prefix="veriframe-verify-") as tmp:
            handle = None
            size = 0
            try:
                async for part in request:
                    if part.HasField("header"):
                        if header is not None:
                            raise InvalidArgument("header", "send the header once, first")
                        header = part.header
                        if header.total_size > limit:
                            raise InvalidArgument("header.total_size", f"larger than the {limit} byte limit")
                        suffix = (
                            SUFFIXES.get(header.content_type)
                            or Path(header.filename).suffix.lower()
                            or ".bin"
                        )
                        path = Path(tmp) / f"upload{suffix}"
                        handle = open(path, "wb")  # noqa: SIM115 (closed in finally)
                        continue
                    if handle is None:
                        raise InvalidArgument("header", "the first message must carry the header")
                    size += len(part.chunk)
                    if size > limit:
                        raise InvalidArgument("chunk", f"upload larger than the {limit} byte limit")
                    handle.write(part.chunk)
            finally:
                if handle is not None:
                    handle.close()
            if handle is None or size == 0:
                raise InvalidArgument("chunk", "no file was uploaded")
            shown = Path(header.filename).name if header is not None and header.filename else "the upload"
            prompt = header.prompt if header is not None and header.prompt else None
            result = await asyncio.to_thread(self._verify, principal, path, shown, prompt)
        return result

    def _verify(
        self, principal: Principal, path: Path, shown: str, prompt: str | None
    ) -> verification_pb2.VerifyResponse:
        from veriframe.provenance.media import MediaError

        try:
            outcome = self.ctx.workflow.verify(principal, path, prompt)
        except (MediaError, ValueError) as error:
            # The reason helps the caller; the server's temporary path does not (and is not theirs).
            log.info("Verify: unreadable upload from key %s: %s", principal.key_id, error)
            reason = str(error).replace(str(path), shown).replace(str(path.parent), "")
            message = f"not a readable MP4 video or PNG/JPEG image ({reason})"
            raise InvalidArgument("chunk", message) from error
        report = outcome.report
        watermark = report.get("watermark") or {}
        c2pa = report.get("c2pa") or {}
        verdict = str(report.get("verdict", ""))
        response = verification_pb2.VerifyResponse(
            verdict=verdict,
            verified=verdict == "verified",
            watermark=verification_pb2.WatermarkResult(
                found=bool(watermark.get("found")),
                id=watermark.get("id") or "",
                confidence=float(watermark.get("confidence") or 0.0),
            ),
            c2pa=verification_pb2.C2paResult(
                present=bool(c2pa.get("present")),
                valid=bool(c2pa.get("valid")),
                trusted=bool(c2pa.get("trusted")),
                errors=[str(e) for e in c2pa.get("errors") or []],
                provenance_id=c2pa.get("provenance_id") or "",
                manifest_sha256=c2pa.get("manifest_sha256") or report.get("manifest_sha256") or "",
            ),
            consistent=bool(report.get("consistent")),
            report=convert.struct(report),
            sha256=outcome.sha256,
        )
        if outcome.prompt_check is not None:
            response.prompt_check, response.prompt_check_reason = outcome.prompt_check
        audit = outcome.audit
        if audit is not None:
            key_pem = self.ctx.ledger_public_key_pem
            response.audit.CopyFrom(
                verification_pb2.AuditLookup(
                    found=True,
                    job_id=audit.job_id,
                    tenant=audit.tenant,
                    event=convert.audit_event(audit.event)
                    if audit.disclosed
                    else convert.redacted_audit_event(audit.event),
                    proof=convert.inclusion_proof(audit.proof, audit.checkpoint, key_pem),
                    manifest_matches=audit.manifest_matches,
                    video_matches=audit.video_matches,
                )
            )
        return response
