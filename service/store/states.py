"""Job states: the column's values and the proto's JobState names (pure data, no database)."""

QUEUED, SCREENING, REVIEW = "queued", "screening", "pending_review"
RUNNING, FINALIZING = "running", "finalizing"
SUCCEEDED, FAILED, REJECTED, CANCELLED = "succeeded", "failed", "rejected", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, REJECTED, CANCELLED})
ACTIVE_LEASED = (SCREENING, RUNNING, FINALIZING)  # states held by a process under a lease
# Column value -> the proto's JobState name (without the JOB_STATE_ prefix).
API_STATE = {
    QUEUED: "QUEUED",
    SCREENING: "SCREENING",
    REVIEW: "REVIEW",
    RUNNING: "RUNNING",
    FINALIZING: "FINALIZING",
    SUCCEEDED: "SUCCEEDED",
    FAILED: "FAILED",
    REJECTED: "REJECTED",
    CANCELLED: "CANCELLED",
}
DB_STATE = {v: k for k, v in API_STATE.items()}
# The column's CHECK constraint lists them in this order (migration 0001).
JOB_STATES: tuple[str, ...] = (
    QUEUED,
    SCREENING,
    REVIEW,
    RUNNING,
    FINALIZING,
    SUCCEEDED,
    FAILED,
    CANCELLED,
    REJECTED,
)
REVIEW_STATES: tuple[str, ...] = ("pending", "approved", "rejected", "expired")
