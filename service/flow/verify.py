"""Verify's step: the offline checks of `veriframe.provenance.verify` on an uploaded file, plus the
ledger's record of that video with its inclusion proof (redacted for anyone but its tenant and staff).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from veriframe.service.db import AuditEvent, Job, unavailable_as_error
from veriframe.service.errors import InvalidArgument
from veriframe.service.flow.types import AuditMatch, Services, VerifyResult, sha256_file
from veriframe.service.ledger import events as ev

if TYPE_CHECKING:
    from veriframe.service.auth import Principal


def verify(services: Services, principal: Principal, path: Path, prompt: str | None = None) -> VerifyResult:
    """`prompt`: the owner's claim of the prompt that made the video (checked, never stored)."""
    from veriframe.provenance.verify import verify_file

    if prompt is not None and len(prompt) > services.settings.max_prompt_chars:
        raise InvalidArgument("header.prompt", f"longer than {services.settings.max_prompt_chars} characters")
    data = verify_file(path, trust_anchors=services.trust_anchors).to_json()
    report: dict[str, Any] = json.loads(data) if isinstance(data, str) else data
    file_sha = sha256_file(path)
    watermark, c2pa = report.get("watermark") or {}, report.get("c2pa") or {}
    pid = watermark.get("id") or c2pa.get("provenance_id")
    audit = _audit_match(services, principal, pid, report, file_sha) if pid else None
    checked = check_prompt(services, principal, audit, prompt) if prompt is not None else None
    services.ledger.append(
        ev.VERIFIED,
        ev.verified(
            content_sha256=file_sha,
            verdict=str(report.get("verdict")),
            provenance_id=pid,
            c2pa_valid=c2pa.get("valid"),
            watermark_found=bool(watermark.get("found")),
            api_key_id=principal.key_id,
            prompt_check=checked[0] if checked else None,
        ),
        actor=principal.key_id,
        tenant=principal.tenant,
    )
    return VerifyResult(report=report, sha256=file_sha, audit=audit, prompt_check=checked)


def check_prompt(
    services: Services, principal: Principal, audit: AuditMatch | None, prompt: str
) -> tuple[str, str]:
    """("matches" | "does_not_match" | "not_checked", reason): `prompt` against the commitment the
    video's job recorded (the manifest's, made with the deployment's key).

    Only for the tenant whose job it is: they know their prompt, so the answer tells them nothing new
    about anyone else's; for anybody else the server would be the guessing oracle the key exists to
    prevent. The job's row is the reference, not the uploaded manifest: a caller could paste another
    job's commitment into a manifest of their own."""
    from veriframe.provenance.prompt_commitment import PromptKeyError, opens
    from veriframe.service.flow.commitments import job_commitment, prompt_key

    if audit is None or not audit.disclosed or audit.tenant != principal.tenant:
        return "not_checked", "only the tenant whose job made this video can have its prompt checked"
    with unavailable_as_error(), services.sessions() as s:
        job = s.get(Job, audit.job_id)
    key = prompt_key(services)
    try:
        matches = job is not None and opens(job_commitment(job, key), prompt, [key])
    except PromptKeyError:
        return "not_checked", ("the job's prompt was committed with a prompt key this server no longer "
                               "holds; the operator can check it with the retired key (veriframe-verify "
                               "--prompt-file --prompt-key)")
    return ("matches", "") if matches else ("does_not_match", "")


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
