"""Policy versions: read, update, roll back, diff, dry-run (storage: `veriframe.service.store.policies`)."""

from __future__ import annotations

from typing import Any

from veriframe.service.admin.base import AdminBase
from veriframe.service.admin.views import (
    DryRun,
    PolicyDiff,
    authorize,
    diff_documents,
    page_bounds,
)
from veriframe.service.auth import Principal
from veriframe.service.errors import Aborted, InvalidArgument
from veriframe.service.store import policies
from veriframe.service.store.policies import PolicyRecord


class PoliciesAdmin(AdminBase):
    """Policy versions and dry runs."""

    def get_policy(self, principal: Principal, version: int = 0) -> PolicyRecord:
        """`version` 0: the live one."""
        authorize(principal, "GetPolicy")
        with self._sessions() as s:
            return policies.record(s, version)

    def update_policy(
        self,
        principal: Principal,
        document: dict[str, Any],
        *,
        comment: str = "",
        base_version: int | None = None,
    ) -> PolicyRecord:
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
            old = policies.record(s, to_version)
        text = f"rollback to v{to_version}" + (f": {comment}" if comment else "")
        return self._new_policy_version(principal, old.document, comment=text, rollback_to=to_version)

    def _new_policy_version(
        self,
        principal: Principal,
        document: dict[str, Any],
        *,
        comment: str,
        base_version: int | None = None,
        rollback_to: int | None = None,
    ) -> PolicyRecord:
        from sqlalchemy.exc import IntegrityError

        try:
            return self._insert_policy_version(
                principal, document, comment=comment, base_version=base_version, rollback_to=rollback_to
            )
        except IntegrityError:
            # Another admin made the same version number first (PostgreSQL: concurrent writers).
            raise Aborted("the policy changed while this change was being made: reload and retry") from None

    def _insert_policy_version(
        self,
        principal: Principal,
        document: dict[str, Any],
        *,
        comment: str,
        base_version: int | None,
        rollback_to: int | None,
    ) -> PolicyRecord:
        with self._sessions.begin() as s:
            live = policies.live_record(s)
            if base_version and base_version != live.version:
                raise Aborted(f"the live policy is v{live.version}, not v{base_version}: reload and retry")
            extra: dict[str, Any] = {"previous_version": live.version}
            if rollback_to is not None:
                extra["rollback_to"] = rollback_to
            return policies.insert_version(
                s,
                self._ledger,
                document,
                actor=principal.key_id,
                comment=comment,
                version=live.version + 1,
                extra=extra,
            )

    def list_policy_versions(
        self, principal: Principal, *, page_size: int | None = None, page_token: str | None = None
    ) -> tuple[list[PolicyRecord], str]:
        """Stored versions, newest first (just the built-in default while nothing is stored)."""

        authorize(principal, "ListPolicyVersions")
        size, offset = page_bounds(page_size, page_token)
        with self._sessions() as s:
            rows = policies.records(s, offset=offset, limit=size + 1)
        return rows[:size], str(offset + size) if len(rows) > size else ""

    def diff_policies(self, principal: Principal, from_version: int, to_version: int = 0) -> PolicyDiff:
        authorize(principal, "DiffPolicies")
        if from_version < 1:
            raise InvalidArgument("from_version", "must be a version number (>= 1)")
        with self._sessions() as s:
            old = policies.record(s, from_version)
            new = policies.record(s, to_version)
        changes, unified = diff_documents(old.document, new.document)
        return PolicyDiff(old.version, new.version, changes, unified)

    def dry_run(
        self,
        principal: Principal,
        prompt: str,
        *,
        policy_version: int = 0,
        policy_document: dict[str, Any] | None = None,
    ) -> DryRun:
        """What screening would decide for `prompt` under the live policy, an older version or a draft.

        Nothing is stored and nothing is recorded: a dry run is a read.
        """
        from veriframe.safety import screen
        from veriframe.safety.policy import Policy
        from veriframe.safety.policy_check import PolicyDocumentError, validate_document

        authorize(principal, "DryRunModeration")
        if policy_document is not None:
            with self._sessions() as s:
                draft_version = policies.live_record(s).version + 1
            try:
                policy = Policy.from_dict(validate_document(policy_document, draft_version))
            except PolicyDocumentError as error:
                raise InvalidArgument(error.field, error.message) from None
        else:
            with self._sessions() as s:
                policy = Policy.from_dict(policies.record(s, policy_version).document)
        classifier = self._workflow.classifier()
        try:
            decision = screen(prompt, policy, classifier)
        except ValueError as error:  # safety.PromptError: empty, huge or binary input
            raise InvalidArgument("prompt", str(error)) from None
        return DryRun(
            decision.decision,
            list(decision.categories),
            {k: float(v) for k, v in decision.scores.items()},
            decision.rule or "",
            int(decision.policy_version),
            decision.user_message,
        )
