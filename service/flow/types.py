"""What the flow's steps take and return: plain data, no gRPC (see docs/architecture.md).

`Services` is what every step needs from the server (settings, sessions, ledger, job store, the
policy cache, the screener and the model's Submit-time limits); the server builds it once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriframe.service.params import Numbers

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.service.db import AuditEvent, Job
    from veriframe.service.ledger import Ledger
    from veriframe.service.settings import Settings
    from veriframe.service.store.jobs import JobStore
    from veriframe.service.store.policies import PolicyCache

MiB = 1024 * 1024
# In Job.params: the idempotency check's record of the request, keyed like the prompt commitment
# (`request_commitment`), or on rows from before migration 0007 the plain SHA-256 of the request
# (`request_sha256`), from which a guessed prompt could be confirmed; `veriframe db
# convert-prompt-hashes` turns the one into the other.
FINGERPRINT = "request_commitment"
LEGACY_FINGERPRINT = "request_sha256"
# Job.params entries that are bookkeeping, not engine parameters.
# Job params that are not generation parameters ("guard": flow.guard; "held_output": flow.holds).
BOOKKEEPING = (
    "input_file", "return_frames", "resolved", "blocked_categories", FINGERPRINT, LEGACY_FINGERPRINT,
    "callback_url", "guard", "held_output",
)


@dataclass
class SubmitInput(Numbers):
    """A generation request, as plain data (the server fills it from the protobuf): the schema's
    numeric parameters (`veriframe.service.params.Numbers`) plus the prompts, the mode and its inputs
    as uploaded bytes. (The engine's `GenerationParams` carries the same names with decoded pixels.)"""

    prompt: str
    negative_prompt: str = ""
    mode: str = ""  # "" = t2v unless an image or a video is given
    image: bytes = b""
    video: bytes = b""
    idempotency_key: str = ""
    return_frames: bool = False
    callback_url: str = ""  # webhooks (veriframe.service.webhooks); checked against the allow-list

    def engine_fields(self) -> dict[str, Any]:
        """The numeric parameters that are set (None: the model's default)."""
        return self.numbers()

    def request_sha256(self, mode: str) -> str:
        """SHA-256 of everything that makes this request what it is (prompts and inputs as hashes).

        Never stored: it would confirm a guessed prompt. The record is its commitment
        (`veriframe.provenance.prompt_commitment.commit_digest`, keyed with the prompt key)."""
        document = {
            "mode": mode,
            "params": self.engine_fields(),
            "return_frames": self.return_frames,
            "prompt_sha256": sha256_text(self.prompt),
            "negative_prompt_sha256": sha256_text(self.negative_prompt),
            "image_sha256": hashlib.sha256(self.image).hexdigest(),
            "video_sha256": hashlib.sha256(self.video).hexdigest(),
        }
        return sha256_text(canonical(document))


@dataclass(frozen=True)
class Submitted:
    """Submit's answer: the job, and whether it is an earlier job of the same idempotency key."""

    job: Job
    deduplicated: bool


@dataclass
class Artifact:
    path: Path
    filename: str
    content_type: str
    sha256: str
    provenance_id: str
    cleanup: bool = False  # a temporary file (frames zip) to delete after sending


@dataclass(frozen=True)
class Marked:
    """A watermarked, encoded and signed video on disk (the result of the provenance step)."""

    provenance_id: str
    video: Path
    sha256: str
    manifest_sha256: str
    frames_dir: Path | None
    watermark_algorithm: str
    size: int = 0  # bytes of the signed MP4, recorded on the job: a stored object cannot be stat'ed


@dataclass(frozen=True)
class AuditMatch:
    """The ledger's record of a verified video. `disclosed`: the caller may see whose job it is."""

    disclosed: bool
    job_id: str
    tenant: str
    event: AuditEvent
    proof: Any  # veriframe.service.ledger.InclusionProof
    proof_ok: bool
    checkpoint: Any  # the signed checkpoint the proof is against, or None (the current tree)
    manifest_matches: bool
    video_matches: bool


@dataclass(frozen=True)
class VerifyResult:
    report: dict[str, Any]  # veriframe.provenance.verify's JSON report
    sha256: str
    audit: AuditMatch | None  # None: no ledger record names this video's provenance id
    # (outcome, reason) of the owner's prompt check (flow.verify.check_prompt); None: no prompt given
    prompt_check: tuple[str, str] | None = None


@dataclass
class WorkerContext:
    """What `execute` needs from the worker: its id, its engine, and a stop signal it polls."""

    worker_id: str
    engine: Any
    stop: threading.Event = field(default_factory=threading.Event)  # shutdown or lease lost
    cancel: threading.Event = field(default_factory=threading.Event)  # the requester cancelled
    on_change: Callable[[str], None] = lambda job_id: None
    #: Batches per-step progress off the step loop (engine.handoff.ProgressBatcher); None: write inline.
    progress: Any = None

    def should_stop(self) -> bool:
        return self.stop.is_set() or self.cancel.is_set()


@dataclass
class Services:
    """Everything the flow's steps use, built once by the server."""

    settings: Settings
    sessions: sessionmaker[Session]
    ledger: Ledger
    store: JobStore
    policies: PolicyCache
    screener: Any  # veriframe.service.flow.screening.Screener
    signing: Any  # veriframe.service.flow.execute.SigningKeys
    limits: Any = None  # veriframe.service.flow.model_limits.SubmitLimits, or None (not inspected)
    trust_anchors: list[bytes] = field(default_factory=list)  # PEM roots Verify trusts
    storage: Any = None  # veriframe.service.storage: where artifacts live (None: output_dir on disk)

    @property
    def output_dir(self) -> Path:
        return Path(self.settings.output_dir)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def out_dir(services: Services, job: Any) -> Path:
    """Where a job's video and frames are written on this host (before publishing)."""
    return services.output_dir / job.tenant / job.id


def remove_paths(*paths: Path | None) -> None:
    import shutil

    for path in paths:
        if path is None or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def message_of(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)
