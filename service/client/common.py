"""What the sync and asyncio clients share: connection options, request building, result types.

Light on purpose: grpc, protobuf and the generated stubs only (no torch, numpy or sqlalchemy).
"""

from __future__ import annotations

import os
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from veriframe.service.api.enums import MODE_PB
from veriframe.service.api.gen import common_pb2, generation_pb2, verification_pb2

if TYPE_CHECKING:
    from veriframe.service.client.job import Job, JobEvent

API_KEY_ENV = "VERIFRAME_API_KEY"
SERVER_ENV = "VERIFRAME_SERVER"
DEFAULT_SERVER = "127.0.0.1:50051"
UPLOAD_CHUNK = 1024 * 1024
MAX_PAGE_SIZE = 500  # the server's limit
MAX_JOB_ID = 36  # a UUID; longer ids exist nowhere
WHAT = {
    "video": generation_pb2.DownloadRequest.WHAT_VIDEO,
    "frames_zip": generation_pb2.DownloadRequest.WHAT_FRAMES_ZIP,
    "frame": generation_pb2.DownloadRequest.WHAT_FRAME,
}
TERMINAL = frozenset(
    {
        common_pb2.JOB_STATE_SUCCEEDED,
        common_pb2.JOB_STATE_FAILED,
        common_pb2.JOB_STATE_REJECTED,
        common_pb2.JOB_STATE_CANCELLED,
    }
)
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})


def state_name(state: int) -> str:
    return common_pb2.JobState.Name(state).removeprefix("JOB_STATE_")


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach the server. TLS: `root_certificates` (PEM path or bytes; None = system roots);
    mutual TLS: also `client_cert` and `client_key`."""

    address: str = ""
    api_key: str | None = None
    tls: bool = False
    root_certificates: str | Path | bytes | None = None
    client_cert: str | Path | bytes | None = None
    client_key: str | Path | bytes | None = None
    max_message_mb: int = 64
    server_name_override: str | None = None

    def resolved_address(self) -> str:
        return self.address or os.environ.get(SERVER_ENV, DEFAULT_SERVER)

    def resolved_key(self) -> str | None:
        return self.api_key or os.environ.get(API_KEY_ENV)

    def channel_options(self) -> list[tuple[str, Any]]:
        size = self.max_message_mb * 1024 * 1024
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", size),
            ("grpc.max_send_message_length", size),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
        ]
        if self.server_name_override:
            options.append(("grpc.ssl_target_name_override", self.server_name_override))
        return options

    def credentials(self) -> grpc.ChannelCredentials | None:
        if not (self.tls or self.root_certificates or self.client_cert):
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.root_certificates),
            private_key=_read(self.client_key),
            certificate_chain=_read(self.client_cert),
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        key = self.resolved_key()
        return (("authorization", f"Bearer {key}"),) if key else ()


class ClientBase:
    """What `Client` and `AsyncClient` share: the constructor (options, channel, stubs). `_grpc` is
    the channel module: `grpc`, or `grpc.aio` for the asyncio client."""

    _grpc: Any = grpc

    def __init__(
        self,
        address: str = "",
        api_key: str | None = None,
        *,
        tls: bool = False,
        root_certificates: str | Path | bytes | None = None,
        client_cert: str | Path | bytes | None = None,
        client_key: str | Path | bytes | None = None,
        timeout: float = 30.0,
        retries: int = 5,
        max_message_mb: int = 64,
        server_name_override: str | None = None,
    ) -> None:
        from veriframe.service.api.gen import admin_pb2_grpc, generation_pb2_grpc, verification_pb2_grpc

        self.options = ConnectOptions(
            address, api_key, tls, root_certificates, client_cert, client_key, max_message_mb,
            server_name_override,
        )
        self.timeout = timeout
        self.retries = max(1, retries)
        credentials = self.options.credentials()
        target, channel_options = self.options.resolved_address(), self.options.channel_options()
        if credentials is None:
            self.channel = self._grpc.insecure_channel(target, options=channel_options)
        else:
            self.channel = self._grpc.secure_channel(target, credentials, options=channel_options)
        self.generation = generation_pb2_grpc.GenerationStub(self.channel)
        self.verification = verification_pb2_grpc.VerificationStub(self.channel)
        self.admin = admin_pb2_grpc.ModerationAdminStub(self.channel)


def _read(value: str | Path | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return Path(value).read_bytes()


def _bytes(value: str | Path | bytes | None) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else Path(value).read_bytes()


def _set_field(message: Any, name: str, value: Any, field: str) -> None:
    """Set a protobuf field, turning protobuf's ValueError/TypeError (out of range, wrong type) into
    the SDK's InvalidArgument naming the field, as the server would."""
    from veriframe.service.client.errors import InvalidArgument

    try:
        setattr(message, name, value)
    except (ValueError, TypeError) as error:
        raise InvalidArgument(
            f"{field}: {value!r} is not a valid value ({error})", field=field, description=str(error)
        ) from None


def _check_param(name: str, value: Any) -> None:
    from veriframe.service.client.errors import InvalidArgument
    from veriframe.service.params import ParameterError, check

    try:
        check(name, value)
    except ParameterError as error:
        raise InvalidArgument(
            f"params.{name}: {error.message}", field=f"params.{name}", description=error.message
        ) from None


def list_request(
    page_size: int, page_token: str, states: list[int | str] | None
) -> generation_pb2.ListJobsRequest:
    """A ListJobsRequest; InvalidArgument(field="page_size") for a size outside 0..500 (0: the default).
    `states` are JobState names ("REVIEW") or protobuf enum values."""
    from veriframe.service.client.errors import InvalidArgument

    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            f"page_size must be an integer in 0..{MAX_PAGE_SIZE}, got {page_size!r}", field="page_size"
        )
    request = generation_pb2.ListJobsRequest(page_size=page_size)
    _set_field(request, "page_token", page_token, "page_token")
    for state in states or []:
        try:
            if isinstance(state, str):
                state = common_pb2.JobState.Value("JOB_STATE_" + state.upper())
            request.states.append(state)
        except (ValueError, TypeError) as error:
            raise InvalidArgument(f"states: {state!r} is not a job state", field="states") from error
    return request


def check_job_id(job_id: str) -> str:
    """Job ids are UUIDs: refuse anything else here, with a typed error, before it goes on the wire."""
    from veriframe.service.client.errors import InvalidArgument

    if not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_JOB_ID:
        shown = (
            repr(job_id)
            if not isinstance(job_id, str) or len(job_id) <= MAX_JOB_ID
            else f"{len(job_id)} characters"
        )
        raise InvalidArgument(f"job_id must be a job id (a UUID), got {shown}", field="job_id")
    return job_id


def _renamed(name: str, value: Any, old_name: str, old_value: Any) -> Any:
    """The value of a parameter given by its diffusers name or (deprecated) its older name."""
    from veriframe.service.client.errors import InvalidArgument

    if old_value is None:
        return value
    warnings.warn(f"{old_name}= is deprecated: use {name}=", DeprecationWarning, stacklevel=4)
    if value is not None and value != old_value:
        raise InvalidArgument(f"give {name} or {old_name}, not both", field=f"params.{name}")
    return old_value


def submit_request(
    prompt: str,
    *,
    negative_prompt: str = "",
    mode: str | None = None,
    image: str | Path | bytes | None = None,
    video: str | Path | bytes | None = None,
    strength: float | None = None,
    seed: int | None = None,
    num_inference_steps: int | None = None,
    guidance_scale: float | None = None,
    num_frames: int | None = None,
    fps: int | None = None,
    width: int | None = None,
    height: int | None = None,
    idempotency_key: str | None = None,
    return_frames: bool = False,
    callback_url: str = "",
    steps: int | None = None,
    guidance: float | None = None,
    frames: int | None = None,
) -> generation_pb2.SubmitRequest:
    """A SubmitRequest, checked against the parameter schema (`veriframe.service.params`) before it goes
    on the wire, naming the field as the server would. The parameters carry diffusers' names;
    `steps`, `guidance` and `frames` (older names of `num_inference_steps`, `guidance_scale`,
    `num_frames`) still work, with a DeprecationWarning. An idempotency key is always set (a fresh one
    by default), so retrying a Submit after a lost reply never makes a second job."""
    from veriframe.service.client.errors import InvalidArgument

    if mode is not None and mode not in MODE_PB:
        raise InvalidArgument(f"mode must be one of {', '.join(MODE_PB)}", field="params.mode")
    num_inference_steps = _renamed("num_inference_steps", num_inference_steps, "steps", steps)
    guidance_scale = _renamed("guidance_scale", guidance_scale, "guidance", guidance)
    num_frames = _renamed("num_frames", num_frames, "frames", frames)
    params = common_pb2.GenerationParams(
        prompt=prompt,
        negative_prompt=negative_prompt,
        mode=MODE_PB[mode] if mode else common_pb2.MODE_UNSPECIFIED,
        image=_bytes(image),
        video=_bytes(video),
    )
    for name, value in (
        ("strength", strength),
        ("seed", seed),
        ("num_inference_steps", num_inference_steps),
        ("guidance_scale", guidance_scale),
        ("num_frames", num_frames),
        ("fps", fps),
        ("width", width),
        ("height", height),
    ):
        if value is not None:
            _check_param(name, value)
            _set_field(params, name, value, f"params.{name}")
    return generation_pb2.SubmitRequest(
        params=params,
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        return_frames=return_frames,
        callback_url=callback_url,
    )


def verify_requests(data: bytes, filename: str, prompt: str = "") -> list[verification_pb2.VerifyRequest]:
    suffix = Path(filename).suffix.lower()
    content_type = {
        ".mp4": "video/mp4",
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
    }.get(suffix, "")
    parts = [
        verification_pb2.VerifyRequest(
            header=verification_pb2.VerifyHeader(
                filename=Path(filename).name, content_type=content_type, total_size=len(data), prompt=prompt
            )
        )
    ]
    parts += [
        verification_pb2.VerifyRequest(chunk=data[i : i + UPLOAD_CHUNK])
        for i in range(0, len(data), UPLOAD_CHUNK)
    ]
    return parts


@dataclass(frozen=True)
class Progress:
    """One update while a job runs."""

    job_id: str
    state: str  # QUEUED, REVIEW, RUNNING, FINALIZING, SUCCEEDED, ...
    step: int
    total_steps: int
    job: Job = field(repr=False)  # veriframe.service.client.job.Job


def progress_of(event: JobEvent) -> Progress:
    return Progress(
        job_id=event.job_id,
        state=str(event.state),
        step=event.progress.step,
        total_steps=event.progress.total_steps,
        job=event.job,
    )


@dataclass
class VerificationSummary:
    verdict: str
    verified: bool
    watermark_found: bool
    watermark_id: str
    c2pa_valid: bool
    c2pa_trusted: bool
    consistent: bool
    in_ledger: bool
    ledger_proof_ok: bool

    @classmethod
    def from_response(cls, r: verification_pb2.VerifyResponse) -> VerificationSummary:
        return cls(
            verdict=r.verdict,
            verified=r.verified,
            watermark_found=r.watermark.found,
            watermark_id=r.watermark.id,
            c2pa_valid=r.c2pa.valid,
            c2pa_trusted=r.c2pa.trusted,
            consistent=r.consistent,
            in_ledger=r.audit.found,
            ledger_proof_ok=r.audit.proof.verified,
        )


@dataclass
class Verification(VerificationSummary):
    """`client.verify`'s answer: the summary's typed fields; the details (`.watermark`, `.c2pa`,
    `.audit` with its inclusion proof, `.signals`...) are read from the full response, kept as `.proto`
    (docs/sdk.md lists them)."""

    proto: verification_pb2.VerifyResponse | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_response(cls, r: verification_pb2.VerifyResponse) -> Verification:
        summary = VerificationSummary.from_response(r)
        return cls(**vars(summary), proto=r)

    def __getattr__(self, name: str) -> Any:
        if name == "proto" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.proto, name)

    def summary(self) -> VerificationSummary:
        return VerificationSummary(**{k: v for k, v in vars(self).items() if k != "proto"})


def ended_without_video(job: Job) -> str:
    """JobFailed's message for `generate`: how the job ended, and why."""
    why = f"{job.error.code} {job.error.message}" if job.error is not None else ""
    return f"job {job.id} ended {job.state}: {why}".strip()


@dataclass
class GenerationResult:
    job_id: str
    path: Path
    provenance_id: str
    sha256: str
    job: Job = field(repr=False)
    verification: VerificationSummary | None = None
    frames_path: Path | None = None


class Sink:
    """Writes downloaded chunks to `dest`: into it, under the server's file name, when it is a directory
    or looks like one (ends with "/"; it is created), else to that file."""

    def __init__(self, dest: str | Path) -> None:
        import hashlib

        self.dest = Path(dest)
        self.into_directory = self.dest.is_dir() or str(dest).endswith(("/", os.sep))
        self.digest = hashlib.sha256()
        self.expected = ""
        self.path: Path | None = None
        self._handle: Any = None
        self.size = 0
        self.total = 0
        self.provenance_id = ""

    def write(self, chunk: generation_pb2.DownloadChunk) -> None:
        if self._handle is None:
            self.path = self.dest / chunk.filename if self.into_directory else self.dest
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._part = self.path.with_name(self.path.name + ".part")
            self._handle = open(self._part, "wb")  # noqa: SIM115 (closed in finish/abort)
            self.expected, self.total, self.provenance_id = (
                chunk.sha256,
                chunk.total_size,
                chunk.provenance_id,
            )
        self._handle.write(chunk.data)
        self.digest.update(chunk.data)
        self.size += len(chunk.data)

    def finish(self) -> Path:
        from veriframe.service.client.errors import IntegrityError

        if self._handle is None:
            raise IntegrityError("the server sent no data")
        self._handle.close()
        if self.size != self.total or (self.expected and self.digest.hexdigest() != self.expected):
            self._part.unlink(missing_ok=True)
            raise IntegrityError(
                f"download of {self.path} is corrupt: {self.size} of {self.total} bytes, "
                f"sha256 {self.digest.hexdigest()} != {self.expected}"
            )
        self._part.replace(self.path)  # type: ignore[arg-type]
        return self.path  # type: ignore[return-value]

    def abort(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._part.unlink(missing_ok=True)
