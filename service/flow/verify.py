"""Verify's step: the offline checks of `veriframe.provenance.verify` on an uploaded file, plus the
ledger's record of that video with its inclusion proof (redacted for anyone but its tenant and staff).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from veriframe.service.db import AuditEvent, Job, unavailable_as_error
from veriframe.service.flow.types import AuditMatch, Services, VerifyResult, sha256_file
from veriframe.service.ledger import events as ev

if TYPE_CHECKING:
    from veriframe.service.auth import Principal


def verify(services: Services, principal: Principal, path: Path) -> VerifyResult:
    from veriframe.provenance.verify import verify_file

    data = verify_file(path, trust_anchors=services.trust_anchors).to_json()
    report: dict[str, Any] = json.loads(data) if isinstance(data, str) else data
    file_sha = sha256_file(path)
    watermark, c2pa = report.get("watermark") or {}, report.get("c2pa") or {}
    pid = watermark.get("id") or c2pa.get("provenance_id")
    audit = _audit_match(services, principal, pid, report, file_sha) if pid else None
    services.ledger.append(
        ev.VERIFIED,
        ev.verified(
            content_sha256=file_sha,
            verdict=str(report.get("verdict")),
            provenance_id=pid,
            c2pa_valid=c2pa.get("valid"),
            watermark_found=bool(watermark.get("found")),
            api_key_id=principal.key_id,
        ),
        actor=principal.key_id,
        tenant=principal.tenant,
    )
    return VerifyResult(report=report, sha256=file_sha, audit=audit)


def _audit_match(
    services: Services, principal: Principal, pid: str, report: dict[str, Any], file_sha: str
) -> AuditMatch | None:
    with unavailable_as_error(), services.sessions() as s:
        job = s.scalars(select(Job).where(Job.provenance_id == pid)).first()
        if job is None:
            return None
        generated = select(AuditEvent).where(
            AuditEvent.job_id == job.id, AuditEvent.event_type == ev.GENERATED
        )
        event = s.scalars(generated).first()
    if event is None:
        return None
    # Prove against the checkpoint covering the event that witnesses cosigned most (a verifier may
    # demand their cosignatures), else the latest signed one, else the current tree.
    ledger = services.ledger
    checkpoint = ledger.proof_checkpoint(event.seq)
    if checkpoint is not None:
        proof = ledger.inclusion_proof(event.seq, checkpoint.tree_size)
    else:
        proof = ledger.inclusion_proof(event.seq)
    manifest_sha = (report.get("c2pa") or {}).get("manifest_sha256") or report.get("manifest_sha256")
    # Only the owning tenant and staff see whose video it is and the record's contents; anyone
    # else (another tenant, a public verifier) gets the leaf's seq and hash and the proof: enough to
    # check inclusion, nothing about the job (tenant, key id, seed, params, leaf bytes).
    see_owner = principal.is_staff or principal.tenant == job.tenant
    return AuditMatch(
        disclosed=see_owner,
        job_id=job.id if see_owner else "",
        tenant=job.tenant if see_owner else "",
        event=event,
        proof=proof,
        proof_ok=proof.verify(),
        checkpoint=checkpoint,
        manifest_matches=bool(manifest_sha) and manifest_sha == event.payload.get("manifest_sha256"),
        video_matches=file_sha == event.payload.get("output_sha256"),
    )
