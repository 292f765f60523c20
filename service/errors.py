"""Domain errors of the service layer, free of gRPC: the server maps each to a status code + details.

`veriframe.service.server.errors` turns them into `google.rpc.Status` (BadRequest, ErrorInfo, RetryInfo),
and the
SDK turns those back into its own exception classes.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class; `code` is the gRPC status code name."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ServiceError):
    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.description = message


class NotFound(ServiceError):
    code = "NOT_FOUND"


class Unauthenticated(ServiceError):
    code = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    code = "PERMISSION_DENIED"


class FailedPrecondition(ServiceError):
    code = "FAILED_PRECONDITION"

    def __init__(
        self, message: str, *, reason: str = "FAILED_PRECONDITION", metadata: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.metadata = metadata or {}


class PromptBlocked(FailedPrecondition):
    """Screening blocked the prompt. `categories` name what, never which rule."""

    def __init__(self, message: str, categories: list[str], job_id: str) -> None:
        super().__init__(
            message, reason="PROMPT_BLOCKED", metadata={"categories": ",".join(categories), "job_id": job_id}
        )
        self.categories = categories
        self.job_id = job_id


class ResourceExhausted(ServiceError):
    code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, retry_after: float, reason: str = "RATE_LIMITED") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reason = reason


class Aborted(ServiceError):
    code = "ABORTED"


class Unavailable(ServiceError):
    code = "UNAVAILABLE"
