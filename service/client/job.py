"""`Job`: what the SDK and the CLI show about a job, typed and documented (not raw protobuf).

job = Job.from_proto(client.get_job(job_id))
job.state            # "QUEUED" | "REVIEW" | "RUNNING" | "FINALIZING" | "SUCCEEDED" | "FAILED" |
                     # "REJECTED" | "CANCELLED"
job.progress         # (step, total_steps)
job.error            # JobError(code, message, categories) or None
job.provenance_id    # 16 hex digits once the video is marked, else ""
job.as_dict()        # JSON-ready (what `veriframe job get --json` prints)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from google.protobuf import json_format

from veriframe.service.api.gen import common_pb2
from veriframe.service.client.common import state_name

ENDED = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"})
WAITING = frozenset({"QUEUED", "SCREENING", "REVIEW"})


@dataclass(frozen=True)
class JobError:
    code: str  # e.g. PROMPT_BLOCKED, REVIEW_REJECTED, GENERATION_FAILED
    message: str  # safe to show to the requester
    categories: tuple[str, ...] = ()  # moderation categories, for blocks and rejections


@dataclass(frozen=True)
class Job:
    id: str
    state: str
    mode: str  # t2v | i2v | v2v
    tenant: str
    step: int
    total_steps: int
    error: JobError | None
    provenance_id: str
    review_id: str  # set while (and after) the job was held for human review
    video_sha256: str
    audit_seq: int  # the ledger event that records the video (0 until it succeeded)
    attempts: int
    created_at: datetime | None
    updated_at: datetime | None
    params: dict[str, Any] = field(default_factory=dict)  # as resolved by the engine (no prompt)

    @classmethod
    def from_proto(cls, job: common_pb2.Job) -> Job:
        error = None
        if job.error.code or job.error.message:
            error = JobError(job.error.code, job.error.message, tuple(job.error.categories))
        return cls(
            id=job.id,
            state=state_name(job.state),
            mode=common_pb2.Mode.Name(job.mode).removeprefix("MODE_").lower(),
            tenant=job.tenant,
            step=job.progress.step,
            total_steps=job.progress.total_steps,
            error=error,
            provenance_id=job.provenance_id,
            review_id=job.review_id,
            video_sha256=job.output.video_sha256,
            audit_seq=job.output.audit_seq,
            attempts=job.attempts,
            created_at=job.created_at.ToDatetime() if job.HasField("created_at") else None,
            updated_at=job.updated_at.ToDatetime() if job.HasField("updated_at") else None,
            params=json_format.MessageToDict(job.params) if job.HasField("params") else {},
        )

    @property
    def progress(self) -> tuple[int, int]:
        return self.step, self.total_steps

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def held(self) -> bool:
        """Held for human review: nothing runs until a moderator approves it (or rejects it)."""
        return self.state == "REVIEW"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["job_id"] = data.pop("id")
        for name in ("created_at", "updated_at"):
            data[name] = data[name].isoformat() + "Z" if data[name] else None
        if self.error is not None:
            data["error"]["categories"] = list(self.error.categories)
        return data
