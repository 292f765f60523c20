"""Typed results of the SDK (not raw protobuf): `Job`, `JobOutput`, `JobError`, `Submitted`, `JobPage`,
`JobEvent`; what the SDK returns and the CLI shows.

job = client.get_job(job_id)
job.state            # "QUEUED" | "SCREENING" | "REVIEW" | "RUNNING" | "FINALIZING" | "SUCCEEDED" |
                     # "FAILED" | "REJECTED" | "CANCELLED"
job.progress         # JobProgress(step, total_steps), a tuple
job.error            # JobError(code, message, categories) or None
job.provenance_id    # 16 hex digits once the video is marked, else ""
job.output           # JobOutput(video_sha256, video_size, ...) (empty until SUCCEEDED)
job.as_dict()        # JSON-ready (what `veriframe job get --json` prints)

Compatibility with code written against the protobuf messages (SDK < 1): `state`, `mode` and
`JobEvent.kind` also compare equal to the protobuf enum values (`job.state == JOB_STATE_SUCCEEDED`),
`job.progress.step` works, an attribute these classes do not define is read from the message (kept
as `.proto`), and `Job.from_proto(job)` returns a `Job` unchanged. A state hashes as its name (it is a
str): where the enum number itself is needed (`JobState.Name`, int-keyed sets) use `.number`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple

from google.protobuf import json_format

from veriframe.service.api.gen import common_pb2, generation_pb2

ENDED = frozenset({"SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"})
WAITING = frozenset({"QUEUED", "SCREENING", "REVIEW"})


class _EnumName(str):
    """A protobuf enum value by name ("SUCCEEDED"), still equal to its number for older callers."""

    _enum: Any = None
    _prefix = ""

    @classmethod
    def of(cls, number: int) -> _EnumName:
        name = cls._enum.Name(number).removeprefix(cls._prefix)
        return cls(name.lower() if cls is JobMode else name)

    @property
    def number(self) -> int:
        return int(self._enum.Value(self._prefix + self.upper()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, int) and not isinstance(other, bool):
            return self.number == other
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


class JobState(_EnumName):
    _enum, _prefix = common_pb2.JobState, "JOB_STATE_"


class JobMode(_EnumName):
    """"t2v", "i2v" or "v2v"."""

    _enum, _prefix = common_pb2.Mode, "MODE_"


class EventKind(_EnumName):
    """"SNAPSHOT", "STATE_CHANGED", "PROGRESS" or "ERROR"."""

    _enum, _prefix = generation_pb2.JobEvent.Kind, "KIND_"


class JobProgress(NamedTuple):
    step: int
    total_steps: int


class _ProtoFallback:
    """Reads attributes the typed class lacks from the protobuf message it was made from."""

    def __getattr__(self, name: str) -> Any:
        if name == "proto" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.proto, name)


@dataclass(frozen=True)
class JobError:
    code: str  # e.g. PROMPT_BLOCKED, REVIEW_REJECTED, GENERATION_FAILED
    message: str  # safe to show to the requester
    categories: tuple[str, ...] = ()  # moderation categories, for blocks and rejections


@dataclass(frozen=True)
class JobOutput:
    """What a succeeded job made (all empty before)."""

    video_sha256: str = ""
    manifest_sha256: str = ""
    video_size: int = 0  # bytes of the signed MP4
    frame_count: int = 0
    has_frames: bool = False  # signed PNG frames available (submit(..., return_frames=True))
    model_name: str = ""
    model_version: str = ""
    seed: int = 0
    audit_seq: int = 0  # the ledger event that records the video

    @classmethod
    def from_proto(cls, output: common_pb2.JobOutput) -> JobOutput:
        return cls(**{f.name: getattr(output, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Job(_ProtoFallback):
    id: str
    state: str  # a JobState
    mode: str  # a JobMode: t2v | i2v | v2v
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
    output: JobOutput = field(default_factory=JobOutput)
    # Keyed with the deployment's secret: the service can open it (docs/service.md), nobody else can.
    prompt_commitment: str = ""
    prompt_key_id: str = ""
    proto: common_pb2.Job | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_proto(cls, job: common_pb2.Job | Job) -> Job:
        if isinstance(job, Job):
            return job
        error = None
        if job.error.code or job.error.message:
            error = JobError(job.error.code, job.error.message, tuple(job.error.categories))
        return cls(
            id=job.id,
            state=JobState.of(job.state),
            mode=JobMode.of(job.mode),
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
            output=JobOutput.from_proto(job.output),
            prompt_commitment=job.prompt_commitment,
            prompt_key_id=job.prompt_key_id,
            proto=job,
        )

    @property
    def progress(self) -> JobProgress:
        return JobProgress(self.step, self.total_steps)

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def held(self) -> bool:
        """Held for human review: nothing runs or is released until a moderator approves (or rejects) it."""
        return self.state == "REVIEW"

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("proto", "output")}
        data = {k: str(v) if isinstance(v, _EnumName) else v for k, v in data.items()}
        data["job_id"] = data.pop("id")
        for name in ("created_at", "updated_at"):
            data[name] = data[name].isoformat() + "Z" if data[name] else None
        if self.error is not None:
            data["error"] = {**asdict(self.error), "categories": list(self.error.categories)}
        return data


@dataclass(frozen=True)
class Submitted(_ProtoFallback):
    """`client.submit`'s answer: the job, and whether an earlier one with the same idempotency key
    was returned instead of a new one."""

    job: Job
    deduplicated: bool
    proto: generation_pb2.SubmitResponse | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_proto(cls, reply: generation_pb2.SubmitResponse) -> Submitted:
        return cls(Job.from_proto(reply.job), reply.deduplicated, reply)


@dataclass(frozen=True)
class JobPage(_ProtoFallback):
    """One page of `client.list_jobs`: newest first; pass `next_page_token` for the next ("" at the end)."""

    jobs: list[Job]
    next_page_token: str
    proto: generation_pb2.ListJobsResponse | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_proto(cls, reply: generation_pb2.ListJobsResponse) -> JobPage:
        return cls([Job.from_proto(j) for j in reply.jobs], reply.next_page_token, reply)


@dataclass(frozen=True)
class JobEvent(_ProtoFallback):
    """One event of `client.events`: a snapshot first, then each state change and progress step."""

    kind: str  # an EventKind: SNAPSHOT | STATE_CHANGED | PROGRESS | ERROR
    job_id: str
    state: str  # a JobState
    progress: JobProgress
    error: JobError | None
    job: Job  # the job as it is after this event
    time: datetime | None
    proto: generation_pb2.JobEvent | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_proto(cls, event: generation_pb2.JobEvent) -> JobEvent:
        job = Job.from_proto(event.job)
        error = None
        if event.error.code or event.error.message:
            error = JobError(event.error.code, event.error.message, tuple(event.error.categories))
        return cls(
            kind=EventKind.of(event.kind),
            job_id=event.job_id,
            state=JobState.of(event.state),
            progress=JobProgress(event.progress.step, event.progress.total_steps),
            error=error,
            job=job,
            time=event.time.ToDatetime() if event.HasField("time") else None,
            proto=event,
        )
