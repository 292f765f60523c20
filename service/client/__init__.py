"""The Veriframe Python SDK: sync (`Client`) and asyncio (`AsyncClient`) clients, typed errors.

Installs with the light base package (grpcio, protobuf, tenacity): it imports neither torch, diffusers,
numpy nor sqlalchemy. See docs/service.md.
"""

from veriframe.service.client.aio import AsyncClient
from veriframe.service.client.common import (
    GenerationResult,
    Progress,
    Verification,
    VerificationSummary,
    state_name,
)
from veriframe.service.client.errors import (
    Aborted,
    DeadlineExceeded,
    FailedPrecondition,
    IntegrityError,
    InvalidArgument,
    JobFailed,
    NotFound,
    PermissionDenied,
    PromptBlocked,
    RateLimited,
    ServerError,
    Unauthenticated,
    Unavailable,
    VeriframeError,
)
from veriframe.service.client.job import Job, JobError, JobEvent, JobOutput, JobPage, JobState, Submitted
from veriframe.service.client.sync import Client

__all__ = [
    "Aborted",
    "AsyncClient",
    "Client",
    "DeadlineExceeded",
    "FailedPrecondition",
    "GenerationResult",
    "IntegrityError",
    "InvalidArgument",
    "Job",
    "JobError",
    "JobEvent",
    "JobFailed",
    "JobOutput",
    "JobPage",
    "JobState",
    "NotFound",
    "PermissionDenied",
    "Progress",
    "PromptBlocked",
    "RateLimited",
    "ServerError",
    "Submitted",
    "Unauthenticated",
    "Unavailable",
    "Verification",
    "VerificationSummary",
    "VeriframeError",
    "state_name",
]
