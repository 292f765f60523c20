"""Protobuf <-> domain: the only place that knows both shapes."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.json_format import ParseDict

from veriframe.service.api.enums import JOB_STATE_DB, JOB_STATE_PB, MODE_NAME, MODE_PB
from veriframe.service.api.gen import common_pb2, generation_pb2
from veriframe.service.api.timestamps import to_timestamp
from veriframe.service.errors import InvalidArgument
from veriframe.service.flow.types import FINGERPRINT, LEGACY_FINGERPRINT, SubmitInput
from veriframe.service.ledger.canonical import event_bytes
from veriframe.service.store import states as S

# Server paths; the idempotency fingerprints; the callback URL (the client knows it; others need not).
_HIDDEN_PARAMS = ("input_file", FINGERPRINT, LEGACY_FINGERPRINT, "callback_url")


def struct(document: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    ParseDict(_jsonable(document), result)
    return result


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def job_state(state: str) -> int:
    return JOB_STATE_PB[state]


def db_states(values: list[int]) -> list[str]:
    unknown = [v for v in values if v and v not in JOB_STATE_DB]
    if unknown:
        raise InvalidArgument("states", f"{unknown[0]} is not a JobState value")
    return [JOB_STATE_DB[v] for v in values if v]


def submit_input(request: generation_pb2.SubmitRequest) -> SubmitInput:
    from veriframe.service.errors import InvalidArgument

    p = request.params
    if p.mode not in MODE_NAME:
        raise InvalidArgument("params.mode", f"unknown mode {p.mode}")

    def opt(name: str) -> Any:
        return getattr(p, name) if p.HasField(name) else None

    return SubmitInput(
        prompt=p.prompt,
        negative_prompt=p.negative_prompt,
        mode=MODE_NAME[p.mode],
        image=p.image,
        video=p.video,
        strength=opt("strength"),
        seed=opt("seed"),
        num_inference_steps=opt("num_inference_steps"),
        guidance_scale=opt("guidance_scale"),
        num_frames=opt("num_frames"),
        fps=opt("fps"),
        width=opt("width"),
        height=opt("height"),
        idempotency_key=request.idempotency_key,
        return_frames=request.return_frames,
        callback_url=request.callback_url,
    )


def job(row: Any, *, review_id: str = "", generated_seq: int | None = None) -> common_pb2.Job:
    params = {k: v for k, v in (row.params or {}).items() if k not in _HIDDEN_PARAMS}
    resolved = params.get("resolved") or {}
    message = common_pb2.Job(
        id=row.id,
        tenant=row.tenant,
        state=job_state(row.state),
        mode=MODE_PB.get(row.mode, 0),
        progress=common_pb2.Progress(step=row.progress_step or 0, total_steps=row.progress_total or 0),
        params=struct(params),
        prompt_sha256=row.prompt_sha256 or "",  # deprecated: only unconverted rows from before 0007
        prompt_commitment=row.prompt_commitment or "",
        prompt_key_id=row.prompt_key_id or "",
        provenance_id=row.provenance_id or "",
        review_id=review_id,
        idempotency_key=row.idempotency_key or "",
        return_frames=bool(params.get("return_frames")),
        attempts=row.attempts or 0,
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
    )
    if row.error_code:
        categories = []
        if row.error_code == "PROMPT_BLOCKED":
            categories = list((row.params or {}).get("blocked_categories", []))
        message.error.CopyFrom(
            common_pb2.JobError(code=row.error_code, message=row.error_message or "", categories=categories)
        )
    if row.state == S.SUCCEEDED:
        message.output.CopyFrom(
            common_pb2.JobOutput(
                video_sha256=row.output_sha256 or "",
                manifest_sha256=row.manifest_sha256 or "",
                video_size=row.output_size or _size(row.output_path),
                frame_count=int(resolved.get("num_frames", 0) or 0),
                has_frames=bool(row.frames_dir),
                model_name=str(resolved.get("model", "")),
                model_version=str(resolved.get("model_version", "")),
                seed=int(resolved.get("seed", 0) or 0),
                audit_seq=generated_seq or 0,
            )
        )
    return message


def _size(path: str | None) -> int:
    import os

    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


def audit_event(row: Any) -> common_pb2.AuditEvent:
    return common_pb2.AuditEvent(
        seq=row.seq,
        event_type=row.event_type,
        actor=row.actor,
        tenant=row.tenant or "",
        job_id=row.job_id or "",
        payload=struct(row.payload or {}),
        leaf_hash=row.leaf_hash,
        created_at=to_timestamp(row.time),
        leaf_data=event_bytes(row).decode(),
    )


def redacted_audit_event(row: Any) -> common_pb2.AuditEvent:
    """What a caller outside the video's tenant may see: the leaf's position and hash, for the proof."""
    return common_pb2.AuditEvent(seq=row.seq, leaf_hash=row.leaf_hash)


def checkpoint(row: Any, public_key_pem: str = "") -> common_pb2.Checkpoint:
    import base64

    signature = row.signature
    try:
        signature_bytes = base64.b64decode(signature, validate=True)
    except ValueError:
        signature_bytes = signature.encode()
    return common_pb2.Checkpoint(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        created_at=to_timestamp(row.timestamp),
        signature=signature_bytes,
        signed_data=row.body.encode(),
        key_id=row.key_id,
        public_key_pem=public_key_pem,
        note=row.note or "",
    )


def inclusion_proof(
    proof: Any, checkpoint_row: Any = None, public_key_pem: str = ""
) -> common_pb2.InclusionProof:
    message = common_pb2.InclusionProof(
        seq=proof.seq,
        leaf_index=proof.seq,
        tree_size=proof.tree_size,
        leaf_hash=proof.leaf_hash,
        audit_path=list(proof.path),
        root_hash=proof.root_hash,
        verified=proof.verify(),
    )
    if checkpoint_row is not None:
        message.checkpoint.CopyFrom(checkpoint(checkpoint_row, public_key_pem))
    return message
