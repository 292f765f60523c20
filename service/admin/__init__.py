"""Moderation administration: the domain behind the ModerationAdmin RPCs, free of gRPC.

Review queue, policies, API keys, audit queries, statistics and dry runs, on the database models
(`veriframe.service.db`), the ledger (`veriframe.service.ledger`) and the screening library (`safety`).
The servicer in `veriframe.service.server.admin_servicer` only translates protobuf to these calls and
back. The rooms: docs/architecture.md.

Two rules hold for every mutating method here:
- the caller's role is checked against `veriframe.service.auth.ROLE_MATRIX` (the same table the server's
  interceptor uses), so the domain refuses a moderator's key change even if called without the server;
- the action and its ledger event (`admin.*`, `review.*`) are written in ONE transaction: if the ledger
  write fails, the action did not happen.

Policies are read and written by `veriframe.service.store.policies` (the one policy repository);
a new version is checked by `veriframe.safety.policy_check`. Review decisions go through
`veriframe.service.flow.reviews` (via `Workflow`): the job's state machine has one owner. Dry runs
screen with the workflow's classifier, so they decide exactly as a submit would.
"""

from veriframe.service.admin.audit import AuditAdmin
from veriframe.service.admin.keys import KeysAdmin
from veriframe.service.admin.policies import PoliciesAdmin
from veriframe.service.admin.reviews import ReviewsAdmin
from veriframe.service.admin.stats import StatsAdmin
from veriframe.service.admin.views import (
    DEFAULT_PAGE_SIZE,
    EXPORT_BATCH,
    MAX_PAGE_SIZE,
    MAX_REASON_CHARS,
    MISSING,
    AuditQuery,
    CheckpointView,
    CosignatureReceipt,
    CreatedKey,
    DryRun,
    InclusionView,
    KeyView,
    LedgerCheck,
    PolicyChange,
    PolicyDiff,
    ReviewView,
    StatsView,
    authorize,
    diff_documents,
    page_bounds,
)


class AdminService(ReviewsAdmin, PoliciesAdmin, KeysAdmin, AuditAdmin, StatsAdmin):
    """The moderation admin domain: one object, its parts in this package's modules."""


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "EXPORT_BATCH",
    "MAX_PAGE_SIZE",
    "MAX_REASON_CHARS",
    "MISSING",
    "AdminService",
    "AuditQuery",
    "CheckpointView",
    "CosignatureReceipt",
    "CreatedKey",
    "DryRun",
    "InclusionView",
    "KeyView",
    "LedgerCheck",
    "PolicyChange",
    "PolicyDiff",
    "ReviewView",
    "StatsView",
    "authorize",
    "diff_documents",
    "page_bounds",
]
