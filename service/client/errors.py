"""Typed SDK exceptions, built from the gRPC status and its `google.rpc.Status` details."""

from __future__ import annotations

from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2

STATUS_DETAILS_KEY = "grpc-status-details-bin"


class VeriframeError(Exception):
    """Base of every SDK error. `code` is the gRPC status code (None for client-side errors)."""

    def __init__(
        self, message: str, *, code: grpc.StatusCode | None = None, details: list[Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or []


class InvalidArgument(VeriframeError):
    """A request field is wrong: `field` names it (e.g. "params.width")."""

    def __init__(self, message: str, *, field: str = "", description: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field = field
        self.description = description or message


class Unauthenticated(VeriframeError):
    """Missing, unknown or revoked API key."""


class PermissionDenied(VeriframeError):
    """The key's role may not do this."""


class NotFound(VeriframeError):
    """No such job (or not one of your tenant's)."""


class FailedPrecondition(VeriframeError):
    def __init__(
        self, message: str, *, reason: str = "", metadata: dict[str, str] | None = None, **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.reason = reason
        self.metadata = metadata or {}


class PromptBlocked(FailedPrecondition):
    """Screening blocked the prompt; `categories` say why, `job_id` is the recorded (rejected) job."""

    @property
    def categories(self) -> list[str]:
        return [c for c in self.metadata.get("categories", "").split(",") if c]

    @property
    def job_id(self) -> str:
        return self.metadata.get("job_id", "")


class RateLimited(VeriframeError):
    """RESOURCE_EXHAUSTED: retry after `retry_after` seconds (`reason`: RATE_LIMITED, TENANT_QUEUE_FULL)."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, reason: str = "", **kw: Any
    ) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.reason = reason


class Unavailable(VeriframeError):
    """The server (or its database) is unreachable; the SDK already retried with backoff."""


class DeadlineExceeded(VeriframeError):
    pass


class Aborted(VeriframeError):
    pass


class ServerError(VeriframeError):
    """INTERNAL / UNKNOWN and other unexpected codes."""


class JobFailed(VeriframeError):
    """`generate()`: the job ended without a video (FAILED, REJECTED or CANCELLED)."""

    def __init__(self, message: str, *, job: Any, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.job = job
        self.state = job.state
        error = job.error  # None on a typed Job that ended without an error (CANCELLED)
        self.error_code = error.code if error is not None else ""
        self.categories = list(error.categories) if error is not None else []


class IntegrityError(VeriframeError):
    """A downloaded file does not match the SHA-256 the server announced."""


_BY_CODE: dict[grpc.StatusCode, type[VeriframeError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimited,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.ABORTED: Aborted,
}


def _details(error: grpc.RpcError) -> list[Any]:
    metadata = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in metadata or ():
        if key == STATUS_DETAILS_KEY:
            status = status_pb2.Status.FromString(value)
            out = []
            for packed in status.details:
                for cls in (
                    error_details_pb2.BadRequest,
                    error_details_pb2.ErrorInfo,
                    error_details_pb2.RetryInfo,
                ):
                    if packed.Is(cls.DESCRIPTOR):
                        message = cls()
                        packed.Unpack(message)
                        out.append(message)
            return out
    return []


def from_rpc_error(error: grpc.RpcError) -> VeriframeError:
    """The typed exception for a failed call (sync `grpc.RpcError` or `grpc.aio.AioRpcError`)."""
    code = error.code()
    message = error.details() or str(code)
    details = _details(error)
    kw: dict[str, Any] = {"code": code, "details": details}
    cls = _BY_CODE.get(code, ServerError)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in message:
        # gRPC's own message size limit, not a rate limit: the request itself is too big.
        return InvalidArgument(message, field="request", description=message, code=code, details=details)
    info = next((d for d in details if isinstance(d, error_details_pb2.ErrorInfo)), None)
    if cls is InvalidArgument:
        bad = next((d for d in details if isinstance(d, error_details_pb2.BadRequest)), None)
        if bad is not None and bad.field_violations:
            kw["field"] = bad.field_violations[0].field
            kw["description"] = bad.field_violations[0].description
    elif cls is FailedPrecondition:
        if info is not None:
            kw["reason"], kw["metadata"] = info.reason, dict(info.metadata)
            if info.reason == "PROMPT_BLOCKED":
                cls = PromptBlocked
    elif cls is RateLimited:
        retry = next((d for d in details if isinstance(d, error_details_pb2.RetryInfo)), None)
        if retry is not None:
            kw["retry_after"] = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
        if info is not None:
            kw["reason"] = info.reason
    return cls(message, **kw)
