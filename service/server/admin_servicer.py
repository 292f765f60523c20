"""ModerationAdmin over gRPC: protobuf in, `veriframe.service.admin.AdminService` call, protobuf out.

Nothing here decides anything: validation, transactions and ledger records are in `veriframe.service.admin`.
`veriframe.service.server.errors.rpc` authenticates each call, checks
`veriframe.service.auth.ROLE_MATRIX` and maps domain
errors to status codes (the domain checks the role again). Blocking work runs in threads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc

from veriframe.service import admin as domain
from veriframe.service.api.enums import JOB_STATE_PB, REVIEW_STATE_NAME, REVIEW_STATE_PB, ROLE_NAME, ROLE_PB
from veriframe.service.api.gen import admin_pb2 as pb
from veriframe.service.api.gen import admin_pb2_grpc
from veriframe.service.api.gen import common_pb2 as common
from veriframe.service.api.timestamps import from_timestamp, to_timestamp
from veriframe.service.auth import Principal
from veriframe.service.errors import InvalidArgument
from veriframe.service.server import convert
from veriframe.service.server.errors import rpc
from veriframe.service.validation import json_object

if TYPE_CHECKING:
    from veriframe.service.server.context import ServerContext

T = TypeVar("T")
Ctx = grpc.aio.ServicerContext

EXPORT_CHUNK = 200


# ------------------------------------------------------------------------------ protobuf helpers


def review_pb(v: domain.ReviewView) -> pb.Review:
    return pb.Review(
        id=v.id,
        job_id=v.job_id,
        state=REVIEW_STATE_PB.get(v.state, pb.REVIEW_STATE_UNSPECIFIED),
        prompt=v.prompt,
        negative_prompt=v.negative_prompt,
        categories=v.categories,
        scores=v.scores,
        requester_key_id=v.requester_key_id,
        tenant=v.tenant,
        policy_version=v.policy_version,
        rule=v.rule,
        created_at=to_timestamp(v.created_at),
        expires_at=to_timestamp(v.expires_at),
        decided_by=v.decided_by,
        decided_at=to_timestamp(v.decided_at),
        reason=v.reason,
        job_state=JOB_STATE_PB.get(v.job_state, common.JOB_STATE_UNSPECIFIED),
    )


def policy_pb(p: domain.PolicyRecord) -> pb.PolicyVersion:
    return pb.PolicyVersion(
        version=p.version,
        document_json=json.dumps(p.document, sort_keys=True),
        created_by=p.created_by,
        created_at=to_timestamp(p.created_at),
        comment=p.comment,
        live=p.live,
    )


def key_pb(k: domain.KeyView) -> pb.ApiKey:
    return pb.ApiKey(
        id=k.id,
        prefix=k.prefix,
        role=ROLE_PB.get(k.role, pb.ROLE_UNSPECIFIED),
        tenant=k.tenant,
        name=k.name,
        created_at=to_timestamp(k.created_at),
        revoked_at=to_timestamp(k.revoked_at),
        revoked=k.revoked_at is not None,
        created_by=k.created_by,
    )


def checkpoint_pb(c: domain.CheckpointView) -> common.Checkpoint:
    return common.Checkpoint(
        tree_size=c.tree_size,
        root_hash=c.root_hash,
        created_at=to_timestamp(c.created_at),
        signature=c.signature,
        signed_data=c.signed_data,
        key_id=c.key_id,
        public_key_pem=c.public_key_pem,
        note=c.note,
    )


def _json_or_empty(value: Any) -> str:
    return "" if value is domain.MISSING else json.dumps(value, sort_keys=True)


def _document(text: str, field: str) -> dict[str, Any]:
    return json_object(text, field)


def audit_query(r: pb.SearchAuditRequest) -> domain.AuditQuery:
    return domain.AuditQuery(
        job_id=r.job_id or None,
        actor=r.actor or None,
        tenant=r.tenant or None,
        event_types=tuple(r.event_types),
        decision=r.decision or None,
        start=from_timestamp(r, "start_time"),
        end=from_timestamp(r, "end_time"),
    )


# ------------------------------------------------------------------------------------- servicer



class ModerationAdminServicer(admin_pb2_grpc.ModerationAdminServicer):
    def __init__(self, ctx: ServerContext) -> None:
        assert ctx.admin is not None, "the server builds the admin domain with the context"
        self.ctx = ctx
        self.admin = ctx.admin

    @staticmethod
    async def _run(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kw)

    # --- review queue
    @rpc
    async def ListReviews(
        self, request: pb.ListReviewsRequest, context: Ctx, principal: Principal
    ) -> pb.ListReviewsResponse:
        states = [REVIEW_STATE_NAME.get(s, "") for s in request.states]
        if "" in states:
            raise InvalidArgument("states", "unknown review state")
        reviews, token = await self._run(
            self.admin.list_reviews,
            principal,
            states=states,
            tenant=request.tenant or None,
            page_size=request.page_size or None,
            page_token=request.page_token or None,
        )
        return pb.ListReviewsResponse(reviews=[review_pb(r) for r in reviews], next_page_token=token)

    @rpc
    async def GetReview(self, request: pb.GetReviewRequest, context: Ctx, principal: Principal) -> pb.Review:
        return review_pb(await self._run(self.admin.get_review, principal, request.review_id))

    @rpc
    async def ApproveReview(
        self, request: pb.DecideReviewRequest, context: Ctx, principal: Principal
    ) -> pb.Review:
        review = await self._run(self.admin.approve_review, principal, request.review_id, request.reason)
        return review_pb(review)

    @rpc
    async def RejectReview(
        self, request: pb.DecideReviewRequest, context: Ctx, principal: Principal
    ) -> pb.Review:
        review = await self._run(self.admin.reject_review, principal, request.review_id, request.reason)
        return review_pb(review)

    # --- policies
    @rpc
    async def GetPolicy(
        self, request: pb.GetPolicyRequest, context: Ctx, principal: Principal
    ) -> pb.PolicyVersion:
        return policy_pb(await self._run(self.admin.get_policy, principal, request.version))

    @rpc
    async def UpdatePolicy(
        self, request: pb.UpdatePolicyRequest, context: Ctx, principal: Principal
    ) -> pb.PolicyVersion:
        document = _document(request.document_json, "document_json")
        record = await self._run(
            self.admin.update_policy,
            principal,
            document,
            comment=request.comment,
            base_version=request.base_version or None,
        )
        return policy_pb(record)

    @rpc
    async def ListPolicyVersions(
        self, request: pb.ListPolicyVersionsRequest, context: Ctx, principal: Principal
    ) -> pb.ListPolicyVersionsResponse:
        versions, token = await self._run(
            self.admin.list_policy_versions,
            principal,
            page_size=request.page_size or None,
            page_token=request.page_token or None,
        )
        return pb.ListPolicyVersionsResponse(versions=[policy_pb(v) for v in versions], next_page_token=token)

    @rpc
    async def DiffPolicies(
        self, request: pb.DiffPoliciesRequest, context: Ctx, principal: Principal
    ) -> pb.DiffPoliciesResponse:
        diff = await self._run(self.admin.diff_policies, principal, request.from_version, request.to_version)
        changes = [
            pb.PolicyChange(path=c.path, old_json=_json_or_empty(c.old), new_json=_json_or_empty(c.new))
            for c in diff.changes
        ]
        return pb.DiffPoliciesResponse(
            from_version=diff.from_version,
            to_version=diff.to_version,
            changes=changes,
            unified_diff=diff.unified_diff,
        )

    @rpc
    async def RollbackPolicy(
        self, request: pb.RollbackPolicyRequest, context: Ctx, principal: Principal
    ) -> pb.PolicyVersion:
        return policy_pb(
            await self._run(
                self.admin.rollback_policy, principal, request.to_version, comment=request.comment
            )
        )

    @rpc
    async def DryRunModeration(
        self, request: pb.DryRunModerationRequest, context: Ctx, principal: Principal
    ) -> pb.DryRunModerationResponse:
        draft = None
        if request.policy_document_json:
            draft = _document(request.policy_document_json, "policy_document_json")
        r = await self._run(
            self.admin.dry_run,
            principal,
            request.prompt,
            policy_version=request.policy_version,
            policy_document=draft,
        )
        return pb.DryRunModerationResponse(
            decision=r.decision,
            categories=r.categories,
            scores=r.scores,
            rule=r.rule,
            policy_version=r.policy_version,
            user_message=r.user_message,
        )

    # --- API keys
    @rpc
    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: Ctx, principal: Principal
    ) -> pb.CreateApiKeyResponse:
        role = ROLE_NAME.get(request.role)
        if role is None:
            raise InvalidArgument("role", "must be ROLE_CLIENT, ROLE_MODERATOR, ROLE_ADMIN or ROLE_VERIFIER")
        made = await self._run(
            self.admin.create_api_key, principal, role=role, tenant=request.tenant, name=request.name
        )
        return pb.CreateApiKeyResponse(key=key_pb(made.key), secret=made.secret)

    @rpc
    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: Ctx, principal: Principal
    ) -> pb.ListApiKeysResponse:
        keys, token = await self._run(
            self.admin.list_api_keys,
            principal,
            tenant=request.tenant or None,
            include_revoked=request.include_revoked,
            page_size=request.page_size or None,
            page_token=request.page_token or None,
        )
        return pb.ListApiKeysResponse(keys=[key_pb(k) for k in keys], next_page_token=token)

    @rpc
    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: Ctx, principal: Principal
    ) -> pb.ApiKey:
        return key_pb(await self._run(self.admin.revoke_api_key, principal, request.key_id))

    # --- audit
    @rpc
    async def SearchAudit(
        self, request: pb.SearchAuditRequest, context: Ctx, principal: Principal
    ) -> pb.SearchAuditResponse:
        rows, token = await self._run(
            self.admin.search_audit,
            principal,
            audit_query(request),
            page_size=request.page_size or None,
            page_token=request.page_token or None,
        )
        return pb.SearchAuditResponse(events=[convert.audit_event(r) for r in rows], next_page_token=token)

    @rpc
    async def GetAuditEvent(
        self, request: pb.GetAuditEventRequest, context: Ctx, principal: Principal
    ) -> common.AuditEvent:
        return convert.audit_event(await self._run(self.admin.get_audit_event, principal, request.seq))

    @rpc
    async def ExportAudit(
        self, request: pb.SearchAuditRequest, context: Ctx, principal: Principal
    ) -> AsyncIterator[common.AuditEvent]:
        rows = await self._run(self.admin.export_audit, principal, audit_query(request))
        while True:  # pull the blocking iterator in chunks, off the event loop
            chunk = await self._run(lambda: list(itertools.islice(rows, EXPORT_CHUNK)))
            for row in chunk:
                yield convert.audit_event(row)
            if len(chunk) < EXPORT_CHUNK:
                return

    @rpc
    async def GetCheckpoint(
        self, request: pb.GetCheckpointRequest, context: Ctx, principal: Principal
    ) -> common.Checkpoint:
        return checkpoint_pb(await self._run(self.admin.get_checkpoint, principal, create=request.create))

    @rpc
    async def VerifyLedger(
        self, request: pb.VerifyLedgerRequest, context: Ctx, principal: Principal
    ) -> pb.VerifyLedgerResponse:
        r = await self._run(self.admin.verify_ledger, principal)
        return pb.VerifyLedgerResponse(
            ok=r.ok,
            tree_size=r.tree_size,
            root_hash=r.root_hash,
            checkpoints_checked=r.checkpoints_checked,
            problems=r.problems,
        )

    @rpc
    async def GetInclusionProof(
        self, request: pb.GetInclusionProofRequest, context: Ctx, principal: Principal
    ) -> common.InclusionProof:
        p = await self._run(self.admin.inclusion_proof, principal, request.seq, request.tree_size)
        return common.InclusionProof(
            seq=p.seq,
            leaf_index=p.seq,
            tree_size=p.tree_size,
            leaf_hash=p.leaf_hash,
            audit_path=p.path,
            root_hash=p.root_hash,
            verified=p.verified,
            checkpoint=checkpoint_pb(p.checkpoint) if p.checkpoint else None,
        )

    @rpc
    async def GetLatestCheckpoint(
        self, request: pb.GetLatestCheckpointRequest, context: Ctx, principal: Principal
    ) -> common.Checkpoint:
        return checkpoint_pb(await self._run(self.admin.latest_checkpoint, principal, stored=request.stored))

    @rpc
    async def GetConsistencyProof(
        self, request: pb.GetConsistencyProofRequest, context: Ctx, principal: Principal
    ) -> common.ConsistencyProof:
        p = await self._run(self.admin.consistency_proof, principal, request.first_size, request.second_size)
        return common.ConsistencyProof(first_size=p.first_size, second_size=p.second_size,
                                       first_root=p.first_root, second_root=p.second_root, path=p.path)

    @rpc
    async def AddCosignature(
        self, request: pb.AddCosignatureRequest, context: Ctx, principal: Principal
    ) -> pb.AddCosignatureResponse:
        r = await self._run(self.admin.add_cosignature, principal, request.note)
        return pb.AddCosignatureResponse(
            checkpoint=checkpoint_pb(r.checkpoint), added=r.added, already=r.already, ignored=r.ignored
        )

    # --- statistics
    @rpc
    async def GetStats(self, request: pb.GetStatsRequest, context: Ctx, principal: Principal) -> pb.Stats:
        start, end = from_timestamp(request, "start_time"), from_timestamp(request, "end_time")
        s = await self._run(self.admin.stats, principal, start=start, end=end, tenant=request.tenant or None)
        return pb.Stats(
            requests=s.requests,
            allowed=s.allowed,
            reviewed=s.reviewed,
            blocked=s.blocked,
            blocks_by_category=s.blocks_by_category,
            review_backlog=s.review_backlog,
            reviews_approved=s.reviews_approved,
            reviews_rejected=s.reviews_rejected,
            reviews_expired=s.reviews_expired,
            jobs_by_state=s.jobs_by_state,
            succeeded=s.succeeded,
            failed=s.failed,
            start_time=to_timestamp(start),
            end_time=to_timestamp(end),
        )
