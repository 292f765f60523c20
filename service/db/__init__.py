"""The database layer: typed models, engines and sessions, and Alembic migrations run from Python."""

from veriframe.service.db.engine import (
    DatabaseUnavailable,
    make_engine,
    reading,
    redact,
    session_factory,
    translate_outages,
    unavailable_as_error,
)
from veriframe.service.db.migrate import current, downgrade, head, upgrade
from veriframe.service.db.models import (
    ApiKey,
    AuditEvent,
    Base,
    Checkpoint,
    CheckpointCosignature,
    Job,
    LedgerHead,
    MerkleNode,
    Policy,
    PromptText,
    ReviewItem,
    WebhookCursor,
    WebhookDelivery,
)

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Checkpoint",
    "CheckpointCosignature",
    "DatabaseUnavailable",
    "Job",
    "LedgerHead",
    "MerkleNode",
    "Policy",
    "PromptText",
    "ReviewItem",
    "WebhookCursor",
    "WebhookDelivery",
    "current",
    "downgrade",
    "head",
    "make_engine",
    "reading",
    "redact",
    "session_factory",
    "translate_outages",
    "unavailable_as_error",
    "upgrade",
]
