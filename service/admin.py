"""Moderation administration: the domain behind the ModerationAdmin RPCs, free of gRPC.

Review queue, policies, API keys, audit queries, statistics and dry runs, on the database models
(`veriframe.service.db`), the ledger (`veriframe.service.ledger`) and the screening library (`safety`).
The servicer in
`veriframe.service.server.admin_servicer` only translates protobuf to these calls and back.

Two rules hold for every mutating method here:
- the caller's role is checked against `veriframe.service.auth.ROLE_MATRIX` (the same table the server's
  interceptor uses), so the domain refuses a moderator's key change even if called without the server;
- the action and its ledger event (`admin.*`, `review.*`) are written in ONE transaction: if the ledger
  write fails, the action did not happen.

Policies: the table `policies` holds every version (`veriframe.safety.policy.Policy.to_dict()`, its "version"
field equal to the row's); the highest version is live (as `Workflow.live_policy` reads it). On a
database where nothing is stored yet, the live policy is `veriframe.safety.policy.default_policy()`
(version 1).

Review decisions go through `Workflow.approve_review` / `reject_review`: the job's state machine has
one owner. Dry runs screen with the workflow's classifier, so they decide exactly as a submit would.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from veriframe.service.auth import ROLE_MATRIX, Principal
from veriframe.service.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from veriframe.service.ledger import events as ev

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from veriframe.service.db import AuditEvent
    from veriframe.service.ledger import Ledger
    from veriframe.service.workflow import Workflow

_RPC = "/veriframe.v1.ModerationAdmin/"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
EXPORT_BATCH = 500
MAX_REASON_CHARS = 2000


# ------------------------------------------------------------------------------------------- views

@dataclass(frozen=True)
class ReviewView:
    id: str
    job_id: str
    state: str  # pending | approved | rejected | expired
    prompt: str  # "" once purged by retention
    negative_prompt: str
    categories: list[str]
    scores: dict[str, float]
    requester_key_id: str
    tenant: str
    policy_version: int
    rule: str  # the rule that fired (staff only), from the ledger's "screened" event
    created_at: datetime
    expires_at: datetime
    decided_by: str
    decided_at: datetime | None
    reason: str
    job_state: str  # as stored: pending_review, queued, running, ..., rejected


@dataclass(frozen=True)
class PolicyRecord:
    version: int
    document: dict[str, Any]
    created_by: str
    created_at: datetime | None
    comment: str
    live: bool


@dataclass(frozen=True)
class PolicyChange:
    path: str  # e.g. "categories.hate.block_threshold"
    old: Any  # MISSING when added
    new: Any  # MISSING when removed


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


@dataclass(frozen=True)
class PolicyDiff:
    from_version: int
    to_version: int
    changes: list[PolicyChange]
    unified_diff: str


@dataclass(frozen=True)
class DryRun:
    decision: str
    categories: list[str]
    scores: dict[str, float]
    rule: str
    policy_version: int
    user_message: str


@dataclass(frozen=True)
class KeyView:
    id: str
    prefix: str
    role: str
    tenant: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    created_by: str


@dataclass(frozen=True)
class CreatedKey:
    key: KeyView
    secret: str  # shown once


@dataclass(frozen=True)
class AuditQuery:
    job_id: str | None = None
    actor: str | None = None
    tenant: str | None = None
    event_types: tuple[str, ...] = ()
    decision: str | None = None  # allow | review | block: "screened" events with that decision
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


@dataclass(frozen=True)
class CheckpointView:
    tree_size: int
    root_hash: str
    created_at: datetime
    signature: bytes
    signed_data: bytes
    key_id: str
    public_key_pem: str
    note: str = ""  # the C2SP signed note (empty for a v1 checkpoint)


@dataclass(frozen=True)
class InclusionView:
    seq: int
    tree_size: int
    leaf_hash: str
    path: list[str]
    root_hash: str
    verified: bool
    checkpoint: CheckpointView | None


@dataclass(frozen=True)
class LedgerCheck:
    ok: bool
    tree_size: int
    root_hash: str
    checkpoints_checked: int
    problems: list[str]


@dataclass(frozen=True)
class StatsView:
    start: datetime | None
    end: datetime | None
    requests: int = 0
    allowed: int = 0
    reviewed: int = 0
    blocked: int = 0
    blocks_by_category: dict[str, int] = field(default_factory=dict)
    review_backlog: int = 0
    reviews_approved: int = 0
    reviews_rejected: int = 0
    reviews_expired: int = 0
    jobs_by_state: dict[str, int] = field(default_factory=dict)
    succeeded: int = 0
    failed: int = 0


# ----------------------------------------------------------------------------------------- helpers

def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite reads timezone-aware columns back naive: they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def authorize(principal: Principal, rpc: str) -> None:
    """PermissionDenied unless the principal's role may call ModerationAdmin/`rpc` (ROLE_MATRIX)."""
    allowed = ROLE_MATRIX.get(_RPC + rpc)
    if allowed is None or principal.role not in allowed:
        raise PermissionDenied(f"role '{principal.role}' may not call {rpc}")


def _page(page_size: int | None, page_token: str | None) -> tuple[int, int]:
    size = page_size or DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    try:
        offset = int(page_token) if page_token else 0
    except ValueError:
        raise InvalidArgument("page_token", "not a token returned by a previous call") from None
    if offset < 0:
        raise InvalidArgument("page_token", "not a token returned by a previous call")
    return size, offset


def document_sha256(document: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted paths; lists and scalars are leaves (compared whole)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key in sorted(value):
            out.update(_flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[PolicyChange], str]:
    """The changed paths (the "version" field aside) and a unified diff of the pretty-printed documents."""
    a = {k: v for k, v in _flatten(old).items() if k != "version"}
    b = {k: v for k, v in _flatten(new).items() if k != "version"}
    changes = [PolicyChange(path, a.get(path, MISSING), b.get(path, MISSING))
               for path in sorted(a.keys() | b.keys()) if a.get(path, MISSING) != b.get(path, MISSING)]
    pretty_a = json.dumps(old, indent=2, sort_keys=True).splitlines(keepends=True)
    pretty_b = json.dumps(new, indent=2, sort_keys=True).splitlines(keepends=True)
    unified = "".join(difflib.unified_diff(pretty_a, pretty_b, fromfile=f"v{old.get('version', '?')}",
                                           tofile=f"v{new.get('version', '?')}"))
    return changes, unified


ALWAYS_BLOCK_CATEGORY = "sexual/minors"


def validate_policy_document(document: Any, version: int) -> dict[str, Any]:
    """The document as `veriframe.safety.policy.Policy` writes it, with `version` set; InvalidArgument if bad.

    Fail closed: `veriframe.safety.screen` skips a category that has no threshold, so a document that leaves
    any category without a review and a block threshold (`{}` included) would switch moderation off
    for it. Such documents, and any that would weaken the always-on sexual/minors block, are refused.
    """
    from veriframe.safety.policy import Policy

    if not isinstance(document, dict):
        raise InvalidArgument("document_json", "a policy document is a JSON object")
    try:
        policy = Policy.from_dict({**document, "version": version})
        result = policy.to_dict()
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidArgument("document_json", f"not a valid policy: {error}") from None
    _require_full_coverage(policy)
    result["version"] = version
    return result


def _require_full_coverage(policy: Any) -> None:
    """InvalidArgument (naming the field) unless every category can still review and block."""
    import re

    from veriframe.safety import CATEGORIES
    from veriframe.safety.policy import BUILTIN_MINOR_TERMS, BUILTIN_SEXUAL_TERMS, fold_term

    for category in CATEGORIES:
        t = policy.thresholds.get(category)
        values = {"review": t.review if t else None, "block": t.block if t else None}
        for action, value in values.items():
            field_name = f"thresholds.{category}.{action}"
            if value is None:
                raise InvalidArgument(field_name, "every category needs a review and a block threshold "
                                      "(a category without one is not moderated at all)")
            if not 0.0 <= value <= 1.0:  # safety.policy checks this too; kept so the rule stands here
                raise InvalidArgument(field_name, f"must be in [0, 1], got {value}")
            if category == ALWAYS_BLOCK_CATEGORY and value >= 1.0:
                raise InvalidArgument(field_name, "a threshold of 1 would switch off the always-on "
                                      "sexual/minors block: use a value below 1")
        if values["block"] < values["review"]:
            raise InvalidArgument(f"thresholds.{category}.block",
                                  f"must not be below the review threshold ({values['review']})")
    # An allow phrase is cut out of the prompt before the rules run: one that holds a built-in minor
    # term, or is a built-in sexual term, would hide it from the always-on sexual/minors rule.
    minors = [fold_term(term) for term in BUILTIN_MINOR_TERMS]
    sexual = {fold_term(term) for term in BUILTIN_SEXUAL_TERMS}
    for index, phrase in enumerate(policy.allow_phrases):
        folded = fold_term(phrase)
        masked = next((m for m in minors if re.search(rf"(?<!\w){re.escape(m)}(?!\w)", folded)), None)
        if masked is not None or folded in sexual:
            raise InvalidArgument(f"allow_phrases[{index}]", f"{phrase!r} would hide the built-in term "
                                  f"{masked or folded!r} from the always-on sexual/minors block")


def _default_record(live: bool) -> PolicyRecord:
    from veriframe.safety.policy import default_policy

    policy = default_policy()
    return PolicyRecord(policy.version, policy.to_dict(), "built-in default", None,
                        "safety/default_policy.json (not stored yet)", live)


def live_policy_record(session: Session) -> PolicyRecord:
    """The policy in force: the highest stored version, else the built-in default."""
    from sqlalchemy import select

    from veriframe.service.db import Policy as PolicyRow

    row = session.scalars(select(PolicyRow).order_by(PolicyRow.version.desc()).limit(1)).first()
    if row is None:
        return _default_record(True)
    return PolicyRecord(row.version, {**row.document, "version": row.version}, row.created_by,
                        aware(row.created_at), row.comment, True)


# ---------------------------------------------------------------------------------------- the service

class AdminService:
    """The moderation admin domain. One per server process; thread-safe (a session per call).

    `workflow`: decides reviews and provides the screening classifier.
    `on_job_change`: called with a job id after a commit that changed its state (e.g. to wake the
    worker and the job's event streams).
    """

    def __init__(self, sessions: sessionmaker[Session], ledger: Ledger, workflow: Workflow, *,
                 on_job_change: Callable[[str], None] | None = None) -> None:
        self._sessions = sessions
        self._ledger = ledger
        self._workflow = workflow
        self._on_job_change = on_job_change

    # --- review queue ------------------------------------------------------------------------------

    def list_reviews(self, principal: Principal, *, states: list[str] | None = None,
                     tenant: str | None = None, page_size: int | None = None,
                     page_token: str | None = None) -> tuple[list[ReviewView], str]:
        """Reviews (default: pending), oldest first; returns (page, next_page_token or "")."""
        from sqlalchemy import select

        from veriframe.service.db import ReviewItem
        from veriframe.service.db.models import REVIEW_STATES

        authorize(principal, "ListReviews")
        states = list(states or ["pending"])
        for state in states:
            if state not in REVIEW_STATES:
                raise InvalidArgument("states", f"unknown review state {state!r}")
        size, offset = _page(page_size, page_token)
        query = select(ReviewItem).where(ReviewItem.state.in_(states))
        if tenant:
            query = query.where(ReviewItem.tenant == tenant)
        query = query.order_by(ReviewItem.created_at, ReviewItem.id).offset(offset).limit(size + 1)
        with self._sessions() as s:
            items = list(s.scalars(query))
            views = [self._review_view(s, item) for item in items[:size]]
        return views, str(offset + size) if len(items) > size else ""

    def get_review(self, principal: Principal, review_id: str) -> ReviewView:
        authorize(principal, "GetReview")
        with self._sessions() as s:
            return self._review_view(s, self._review(s, review_id))

    def approve_review(self, principal: Principal, review_id: str, reason: str = "") -> ReviewView:
        """The held job goes to the queue; recorded as `review.approved`."""
        authorize(principal, "ApproveReview")
        return self._decide(principal, review_id, approve=True, reason=reason)

    def reject_review(self, principal: Principal, review_id: str, reason: str) -> ReviewView:
        """The held job becomes REJECTED with `reason` (the requester sees it); `review.rejected`."""
        authorize(principal, "RejectReview")
        if not reason or not reason.strip():
            raise InvalidArgument("reason", "a rejection needs a reason (the requester is shown it)")
        return self._decide(principal, review_id, approve=False, reason=reason)

    def _decide(self, principal: Principal, review_id: str, *, approve: bool, reason: str) -> ReviewView:
        # The review state machine and the job transition are the workflow's (one place decides how a
        # held job moves on); this adds the checks on `reason` and returns the full view.
        reason = (reason or "").strip()
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidArgument("reason", f"at most {MAX_REASON_CHARS} characters")
        if approve:
            item = self._workflow.approve_review(principal, review_id, reason)
        else:
            item = self._workflow.reject_review(principal, review_id, reason)
        self._notify(item.job_id)
        with self._sessions() as s:
            return self._review_view(s, self._review(s, item.id))

    @staticmethod
    def _review(s: Session, review_id: str, *, lock: bool = False) -> Any:
        from veriframe.service.db import ReviewItem

        item = s.get(ReviewItem, review_id, with_for_update=lock) if review_id else None
        if item is None:
            raise NotFound(f"review {review_id!r} not found")
        return item

    @staticmethod
    def _review_view(s: Session, item: Any, *, job: Any = None) -> ReviewView:
        from sqlalchemy import select

        from veriframe.service.db import AuditEvent, Job, PromptText

        job = job if job is not None else s.get(Job, item.job_id)
        prompt = s.get(PromptText, item.job_id)
        screened = s.scalars(
            select(AuditEvent).where(AuditEvent.job_id == item.job_id, AuditEvent.event_type == ev.SCREENED)
            .order_by(AuditEvent.seq.desc()).limit(1)).first()
        return ReviewView(
            id=item.id, job_id=item.job_id, state=item.state,
            prompt=prompt.text if prompt else "", negative_prompt=prompt.negative_text if prompt else "",
            categories=list(item.categories or []),
            scores={k: float(v) for k, v in (item.scores or {}).items()},
            requester_key_id=(job.owner_key_id or "") if job else "",
            tenant=item.tenant or (job.tenant if job else ""),
            policy_version=item.policy_version or 0,
            rule=(screened.payload.get("rule") or "") if screened else "",
            created_at=aware(item.created_at), expires_at=aware(item.expires_at),  # type: ignore[arg-type]
            decided_by=item.decided_by or "", decided_at=aware(item.decided_at), reason=item.reason or "",
            job_state=job.state if job else "",
        )

    # --- policies ----------------------------------------------------------------------------------

    def get_policy(self, principal: Principal, version: int = 0) -> PolicyRecord:
        """`version` 0: the live one."""
        authorize(principal, "GetPolicy")
        with self._sessions() as s:
            return self._policy(s, version)

    @staticmethod
    def _policy(s: Session, version: int) -> PolicyRecord:
        from veriframe.service.db import Policy as PolicyRow

        live = live_policy_record(s)
        if not version or version == live.version:
            return live
        row = s.get(PolicyRow, version)
        if row is None:
            raise NotFound(f"policy version {version} not found (live: v{live.version})")
        return PolicyRecord(row.version, {**row.document, "version": row.version}, row.created_by,
                            aware(row.created_at), row.comment, False)

    def update_policy(self, principal: Principal, document: dict[str, Any], *, comment: str = "",
                      base_version: int | None = None) -> PolicyRecord:
        """A new version with `document` (its "version" is ignored); `admin.policy_changed`.

        `base_version`: optimistic concurrency, Aborted unless it is the live version.
        """
        authorize(principal, "UpdatePolicy")
        return self._new_policy_version(principal, document, comment=comment, base_version=base_version)

    def rollback_policy(self, principal: Principal, to_version: int, *, comment: str = "") -> PolicyRecord:
        """A new version whose document is that of `to_version` (versions are never edited)."""
        authorize(principal, "RollbackPolicy")
        if to_version < 1:
            raise InvalidArgument("to_version", "must be a version number (>= 1)")
        with self._sessions() as s:
            old = self._policy(s, to_version)
        text = f"rollback to v{to_version}" + (f": {comment}" if comment else "")
        return self._new_policy_version(principal, old.document, comment=text, rollback_to=to_version)

    def _new_policy_version(self, principal: Principal, document: dict[str, Any], *, comment: str,
                            base_version: int | None = None, rollback_to: int | None = None) -> PolicyRecord:
        from sqlalchemy.exc import IntegrityError

        try:
            return self._insert_policy_version(principal, document, comment=comment,
                                               base_version=base_version, rollback_to=rollback_to)
        except IntegrityError:
            # Another admin made the same version number first (PostgreSQL: concurrent writers).
            raise Aborted("the policy changed while this change was being made: reload and retry") from None

    def _insert_policy_version(self, principal: Principal, document: dict[str, Any], *, comment: str,
                               base_version: int | None, rollback_to: int | None) -> PolicyRecord:
        from veriframe.service.db import Policy as PolicyRow

        with self._sessions.begin() as s:
            live = live_policy_record(s)
            if base_version and base_version != live.version:
                raise Aborted(f"the live policy is v{live.version}, not v{base_version}: reload and retry")
            version = live.version + 1
            clean = validate_policy_document(document, version)
            row = PolicyRow(version=version, document=clean, created_by=principal.key_id, comment=comment)
            s.add(row)
            payload = ev.policy_changed(version=version, document_sha256=document_sha256(clean),
                                        comment=comment)
            payload["previous_version"] = live.version
            if rollback_to is not None:
                payload["rollback_to"] = rollback_to
            self._ledger.append(ev.ADMIN_POLICY_CHANGED, payload, actor=principal.key_id, tenant=None,
                                session=s)
            s.flush()
            return PolicyRecord(version, clean, principal.key_id, aware(row.created_at), comment, True)

    def list_policy_versions(self, principal: Principal, *, page_size: int | None = None,
                             page_token: str | None = None) -> tuple[list[PolicyRecord], str]:
        """Stored versions, newest first (just the built-in default while nothing is stored)."""
        from sqlalchemy import select

        from veriframe.service.db import Policy as PolicyRow

        authorize(principal, "ListPolicyVersions")
        size, offset = _page(page_size, page_token)
        with self._sessions() as s:
            live = live_policy_record(s)
            rows = list(s.scalars(select(PolicyRow).order_by(PolicyRow.version.desc())
                                  .offset(offset).limit(size + 1)))
        records = [PolicyRecord(r.version, {**r.document, "version": r.version}, r.created_by,
                                aware(r.created_at), r.comment, r.version == live.version)
                   for r in rows[:size]]
        if not rows and not offset:
            records = [live]  # nothing stored: the built-in default is in force
        return records, str(offset + size) if len(rows) > size else ""

    def diff_policies(self, principal: Principal, from_version: int, to_version: int = 0) -> PolicyDiff:
        authorize(principal, "DiffPolicies")
        if from_version < 1:
            raise InvalidArgument("from_version", "must be a version number (>= 1)")
        with self._sessions() as s:
            old = self._policy(s, from_version)
            new = self._policy(s, to_version)
        changes, unified = diff_documents(old.document, new.document)
        return PolicyDiff(old.version, new.version, changes, unified)

    def dry_run(self, principal: Principal, prompt: str, *, policy_version: int = 0,
                policy_document: dict[str, Any] | None = None) -> DryRun:
        """What screening would decide for `prompt` under the live policy, an older version or a draft.

        Nothing is stored and nothing is recorded: a dry run is a read.
        """
        from veriframe.safety import screen
        from veriframe.safety.policy import Policy

        authorize(principal, "DryRunModeration")
        if policy_document is not None:
            with self._sessions() as s:
                draft_version = live_policy_record(s).version + 1
            policy = Policy.from_dict(validate_policy_document(policy_document, draft_version))
        else:
            with self._sessions() as s:
                policy = Policy.from_dict(self._policy(s, policy_version).document)
        classifier = self._workflow.classifier()
        try:
            decision = screen(prompt, policy, classifier)
        except ValueError as error:  # safety.PromptError: empty, huge or binary input
            raise InvalidArgument("prompt", str(error)) from None
        return DryRun(decision.decision, list(decision.categories),
                      {k: float(v) for k, v in decision.scores.items()}, decision.rule or "",
                      int(decision.policy_version), decision.user_message)

    # --- API keys ----------------------------------------------------------------------------------

    def create_api_key(self, principal: Principal, *, role: str, tenant: str, name: str = "") -> CreatedKey:
        """A new key; its secret is in the result and nowhere else. `admin.key_created`, same transaction."""
        from veriframe.service import auth
        from veriframe.service.db import ApiKey

        authorize(principal, "CreateApiKey")
        new = auth.create_key_recorded(self._sessions, self._ledger, role=role, tenant=tenant, name=name,
                                       actor=principal.key_id)
        with self._sessions() as s:
            view = self._key_view(s.get(ApiKey, new.key_id), principal.key_id)
        return CreatedKey(view, new.secret)

    def list_api_keys(self, principal: Principal, *, tenant: str | None = None,
                      include_revoked: bool = False, page_size: int | None = None,
                      page_token: str | None = None) -> tuple[list[KeyView], str]:
        from sqlalchemy import select

        from veriframe.service.db import ApiKey, AuditEvent

        authorize(principal, "ListApiKeys")
        size, offset = _page(page_size, page_token)
        query = select(ApiKey)
        if tenant:
            query = query.where(ApiKey.tenant == tenant)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        query = query.order_by(ApiKey.created_at, ApiKey.id).offset(offset).limit(size + 1)
        with self._sessions() as s:
            rows = list(s.scalars(query))
            ids = [r.id for r in rows[:size]]
            # Who made each key is in the ledger, not on the row.
            creators = dict(s.execute(
                select(AuditEvent.payload["key_id"].as_string(), AuditEvent.actor)
                .where(AuditEvent.event_type == ev.ADMIN_KEY_CREATED,
                       AuditEvent.payload["key_id"].as_string().in_(ids)))
                .all()) if ids else {}
        views = [self._key_view(r, creators.get(r.id, "")) for r in rows[:size]]
        return views, str(offset + size) if len(rows) > size else ""

    def revoke_api_key(self, principal: Principal, key_id: str, *, reason: str | None = None) -> KeyView:
        """Revoked at once: the server looks keys up on every call. `admin.key_revoked` (once)."""
        from veriframe.service import auth
        from veriframe.service.db import ApiKey

        authorize(principal, "RevokeApiKey")
        with self._sessions() as s:
            row = s.get(ApiKey, key_id) if 0 < len(key_id) <= 36 else None
            if row is None:
                raise NotFound(f"API key {key_id!r} not found")
            already = row.revoked_at is not None
        if not already:  # revoking twice changes nothing and records nothing
            auth.revoke_recorded(self._sessions, self._ledger, key_id, actor=principal.key_id, reason=reason)
        with self._sessions() as s:
            return self._key_view(s.get(ApiKey, key_id), "")

    @staticmethod
    def _key_view(row: Any, created_by: str) -> KeyView:
        return KeyView(row.id, row.prefix, row.role, row.tenant, row.name or "", aware(row.created_at),  # type: ignore[arg-type]
                       aware(row.revoked_at), created_by)

    # --- audit ---------------------------------------------------------------------------------------

    @staticmethod
    def _audit_filter(query: Any, q: AuditQuery) -> Any:
        from veriframe.service.db import AuditEvent

        if q.job_id:
            query = query.where(AuditEvent.job_id == q.job_id)
        if q.actor:
            query = query.where(AuditEvent.actor == q.actor)
        if q.tenant:
            query = query.where(AuditEvent.tenant == q.tenant)
        if q.event_types:
            query = query.where(AuditEvent.event_type.in_(list(q.event_types)))
        if q.decision:
            if q.decision not in ("allow", "review", "block"):
                raise InvalidArgument("decision", "must be allow, review or block")
            query = query.where(AuditEvent.event_type == ev.SCREENED,
                                AuditEvent.payload["decision"].as_string() == q.decision)
        if q.start is not None:
            query = query.where(AuditEvent.time >= q.start)
        if q.end is not None:
            query = query.where(AuditEvent.time < q.end)
        if q.start is not None and q.end is not None and q.end <= q.start:
            raise InvalidArgument("end_time", "must be after start_time")
        return query

    def search_audit(self, principal: Principal, query: AuditQuery, *, page_size: int | None = None,
                     page_token: str | None = None) -> tuple[list[AuditEvent], str]:
        """Matching events, oldest first; the page token is the last seq returned."""
        from sqlalchemy import select

        from veriframe.service.db import AuditEvent

        authorize(principal, "SearchAudit")
        size, after = _page(page_size, page_token)
        stmt = self._audit_filter(select(AuditEvent), query)
        if page_token:
            stmt = stmt.where(AuditEvent.seq > after)
        with self._sessions() as s:
            rows = list(s.scalars(stmt.order_by(AuditEvent.seq).limit(size + 1)))
        return rows[:size], str(rows[size - 1].seq) if len(rows) > size else ""

    def export_audit(self, principal: Principal, query: AuditQuery) -> Iterator[AuditEvent]:
        """Every matching event, oldest first, read in batches (constant memory).

        The role and the filters are checked here, before the first row is asked for."""
        from sqlalchemy import select

        from veriframe.service.db import AuditEvent

        authorize(principal, "ExportAudit")
        stmt = self._audit_filter(select(AuditEvent), query)

        def rows() -> Iterator[AuditEvent]:
            after = -1
            while True:
                with self._sessions() as s:
                    batch = list(s.scalars(stmt.where(AuditEvent.seq > after).order_by(AuditEvent.seq)
                                           .limit(EXPORT_BATCH)))
                yield from batch
                if len(batch) < EXPORT_BATCH:
                    return
                after = batch[-1].seq

        return rows()

    def get_audit_event(self, principal: Principal, seq: int) -> AuditEvent:
        authorize(principal, "GetAuditEvent")
        row = self._ledger.event(seq)
        if row is None:
            raise NotFound(f"audit event {seq} not found")
        return row

    def get_checkpoint(self, principal: Principal, *, create: bool = False) -> CheckpointView:
        """The latest signed checkpoint; `create` signs one over the current tree first."""
        from veriframe.service.ledger import LedgerError

        authorize(principal, "GetCheckpoint")
        try:
            row = self._ledger.checkpoint() if create else self._ledger.latest_checkpoint()
        except LedgerError as error:
            raise FailedPrecondition(str(error), reason="NO_LEDGER_KEY") from None
        if row is None:
            raise NotFound("the ledger has no checkpoint yet (GetCheckpoint with create=true signs one)")
        return self._checkpoint_view(row)

    def _checkpoint_view(self, row: Any) -> CheckpointView:
        from cryptography.hazmat.primitives import serialization

        key = self._ledger.public_key
        pem = "" if key is None else key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        return CheckpointView(row.tree_size, row.root_hash, aware(row.timestamp),  # type: ignore[arg-type]
                              base64.b64decode(row.signature), row.body.encode(), row.key_id, pem,
                              row.note or "")

    def latest_checkpoint(self, principal: Principal) -> CheckpointView:
        """The signed checkpoint over the whole current log (the head's, signed with every append)."""
        authorize(principal, "GetLatestCheckpoint")
        row = self._ledger.latest_checkpoint()
        if row is None:
            raise NotFound("the ledger has no signed checkpoint yet: the server signs one with its next "
                           "append")
        return self._checkpoint_view(row)

    def consistency_proof(self, principal: Principal, first_size: int, second_size: int = 0) -> Any:
        """RFC 9162 proof that the tree of `second_size` (0: current) extends the tree of `first_size`."""
        from veriframe.service.ledger import LedgerError

        authorize(principal, "GetConsistencyProof")
        try:
            return self._ledger.consistency_proof(first_size, second_size or None)
        except LedgerError as error:
            raise InvalidArgument("first_size", str(error)) from None

    def verify_ledger(self, principal: Principal) -> LedgerCheck:
        """Recompute the tree from the events; check every checkpoint (signed with the server's key)."""
        authorize(principal, "VerifyLedger")
        report = self._ledger.verify()
        return LedgerCheck(report.ok, report.tree_size, report.root_hash, report.checkpoints,
                           [str(f) for f in report.findings])

    def inclusion_proof(self, principal: Principal, seq: int, tree_size: int = 0) -> InclusionView:
        """Proof for event `seq` in a tree of `tree_size` (0: the latest checkpoint covering it, else now)."""
        from sqlalchemy import select

        from veriframe.service.db import Checkpoint
        from veriframe.service.ledger import LedgerError

        authorize(principal, "GetInclusionProof")
        with self._sessions() as s:
            if tree_size:
                cp_row = s.scalars(select(Checkpoint).where(Checkpoint.tree_size == tree_size)
                                   .order_by(Checkpoint.id.desc()).limit(1)).first()
            else:
                cp_row = s.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()
                if cp_row is not None and cp_row.tree_size <= seq:
                    cp_row = None  # the event is newer than the last checkpoint: prove against the tree now
        size = tree_size or (cp_row.tree_size if cp_row is not None else None)
        try:
            proof = self._ledger.inclusion_proof(seq, size)
        except LedgerError as error:
            raise NotFound(str(error)) from None
        verified = proof.verify() and (cp_row is None or cp_row.root_hash == proof.root_hash)
        return InclusionView(seq, proof.tree_size, proof.leaf_hash, list(proof.path), proof.root_hash,
                             verified, self._checkpoint_view(cp_row) if cp_row is not None else None)

    # --- statistics ----------------------------------------------------------------------------------

    def stats(self, principal: Principal, *, start: datetime | None = None, end: datetime | None = None,
              tenant: str | None = None) -> StatsView:
        """Counts from the ledger over [start, end), the review backlog now, jobs created in the range."""
        from sqlalchemy import func, select

        from veriframe.service.db import AuditEvent, Job, ReviewItem

        authorize(principal, "GetStats")
        q = AuditQuery(tenant=tenant, start=start, end=end,
                       event_types=(ev.SUBMITTED, ev.SCREENED, ev.REVIEW_APPROVED, ev.REVIEW_REJECTED,
                                    ev.REVIEW_EXPIRED))
        with self._sessions() as s:
            counts = self._audit_filter(select(AuditEvent.event_type, func.count()), q)
            by_type = dict(s.execute(counts.group_by(AuditEvent.event_type)).all())
            decisions: Counter[str] = Counter()
            blocks: Counter[str] = Counter()
            screened = self._audit_filter(select(AuditEvent.payload), AuditQuery(
                tenant=tenant, start=start, end=end, event_types=(ev.SCREENED,)))
            for (payload,) in s.execute(screened):
                decisions[payload.get("decision")] += 1
                if payload.get("decision") == "block":
                    blocks.update(payload.get("categories") or ["uncategorised"])
            backlog = select(func.count()).select_from(ReviewItem).where(ReviewItem.state == "pending")
            jobs = select(Job.state, func.count()).group_by(Job.state)
            if tenant:
                backlog = backlog.where(ReviewItem.tenant == tenant)
                jobs = jobs.where(Job.tenant == tenant)
            if start is not None:
                jobs = jobs.where(Job.created_at >= start)
            if end is not None:
                jobs = jobs.where(Job.created_at < end)
            pending = s.scalar(backlog) or 0
            by_state = dict(s.execute(jobs).all())
        return StatsView(
            start=start, end=end, requests=by_type.get(ev.SUBMITTED, 0), allowed=decisions["allow"],
            reviewed=decisions["review"], blocked=decisions["block"], blocks_by_category=dict(blocks),
            review_backlog=pending, reviews_approved=by_type.get(ev.REVIEW_APPROVED, 0),
            reviews_rejected=by_type.get(ev.REVIEW_REJECTED, 0),
            reviews_expired=by_type.get(ev.REVIEW_EXPIRED, 0),
            jobs_by_state=by_state, succeeded=by_state.get("succeeded", 0), failed=by_state.get("failed", 0),
        )

    # --- internals -----------------------------------------------------------------------------------

    def _notify(self, job_id: str) -> None:
        if self._on_job_change is not None:
            self._on_job_change(job_id)
