"""The moderation admin SDK: a typed, synchronous client for the ModerationAdmin gRPC service.

    from veriframe.service.client.admin import AdminClient

    with AdminClient("127.0.0.1:50051", api_key="vf_...") as admin:
        for review in admin.iter_reviews():
            print(review.id, review.prompt, list(review.categories))
        admin.reject_review(review.id, "graphic violence is not allowed")

Calls return the protobuf messages of `proto/veriframe/v1/admin.proto` (`message_to_dict` turns any
into plain JSON-ready data). Failures raise the SDK's typed exceptions (`veriframe.service.client.errors`:
PermissionDenied, NotFound, InvalidArgument, FailedPrecondition, Unauthenticated, Unavailable, ...).
Read-only calls are retried by gRPC on UNAVAILABLE with exponential backoff; calls that change
something are never retried (a lost answer must not create a second key or policy version).

Light on purpose: grpc and protobuf only (no torch, numpy or sqlalchemy).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from veriframe.service.api.enums import REVIEW_STATE_PB, ROLE_PB
from veriframe.service.api.gen import admin_pb2 as pb
from veriframe.service.api.gen import admin_pb2_grpc
from veriframe.service.api.gen import common_pb2 as common
from veriframe.service.api.timestamps import to_timestamp
from veriframe.service.client.common import API_KEY_ENV, ConnectOptions
from veriframe.service.client.errors import VeriframeError, from_rpc_error

T = TypeVar("T")
SERVICE = "veriframe.v1.ModerationAdmin"
DEFAULT_TIMEOUT_S = 30.0
LONG_TIMEOUT_S = 600.0  # whole-ledger verification and export
_READS = (
    "ListReviews",
    "GetReview",
    "GetPolicy",
    "ListPolicyVersions",
    "DiffPolicies",
    "DryRunModeration",
    "ListApiKeys",
    "SearchAudit",
    "GetAuditEvent",
    "ExportAudit",
    "VerifyLedger",
    "GetInclusionProof",
    "GetLatestCheckpoint",
    "GetConsistencyProof",
    "GetStats",
)
# gRPC's own retry machinery (https://github.com/grpc/proposal/blob/master/A6-client-retries.md).
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{"service": SERVICE, "method": m} for m in _READS],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "3s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


def message_to_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as JSON-ready data (field names as in the .proto, enums by name)."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


class AdminClient:
    """ModerationAdmin over one channel. Thread-safe; close it (or use `with`) when done.

    `target`: "host:port" (default: $VERIFRAME_SERVER, else 127.0.0.1:50051). `api_key`: a moderator
    or admin key (default: $VERIFRAME_API_KEY). TLS as in the generation client
    (`veriframe.service.client.common.ConnectOptions`): `tls=True` trusts the system roots, `tls_ca` a
    private CA,
    `tls_cert` + `tls_key` add a client certificate (mutual TLS); otherwise plaintext (loopback, tests).
    `channel`: an existing channel instead (e.g. `Client(...).channel`; not closed by `close()`).
    """

    def __init__(
        self,
        target: str = "",
        *,
        api_key: str | None = None,
        tls: bool = False,
        tls_ca: str | Path | None = None,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        channel: grpc.Channel | None = None,
    ) -> None:
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("a client certificate and its key go together (mutual TLS)")
        self.options = ConnectOptions(
            address=target,
            api_key=api_key,
            tls=tls,
            root_certificates=tls_ca,
            client_cert=tls_cert,
            client_key=tls_key,
        )
        if not self.options.resolved_key():
            raise ValueError(f"an API key is required (moderator or admin role; or set ${API_KEY_ENV})")
        self._metadata = self.options.metadata()
        self._timeout = timeout
        self._own_channel = channel is None
        if channel is None:
            options = [
                *self.options.channel_options(),
                ("grpc.service_config", _SERVICE_CONFIG),
                ("grpc.enable_retries", 1),
            ]
            credentials = self.options.credentials()
            target = self.options.resolved_address()
            channel = (
                grpc.insecure_channel(target, options=options)
                if credentials is None
                else grpc.secure_channel(target, credentials, options=options)
            )
        self._channel = channel
        self._stub = admin_pb2_grpc.ModerationAdminStub(channel)

    def close(self) -> None:
        if self._own_channel:
            self._channel.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., T], request: Message, *, timeout: float | None = None) -> T:
        try:
            return method(request, metadata=self._metadata, timeout=timeout or self._timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # --- review queue --------------------------------------------------------------------------------

    def list_reviews(
        self, *, states: Sequence[str] = (), tenant: str = "", page_size: int = 0, page_token: str = ""
    ) -> pb.ListReviewsResponse:
        """One page of reviews, oldest first; `states` default to pending only."""
        try:
            codes = [REVIEW_STATE_PB[s] for s in states]
        except KeyError as error:
            raise ValueError(f"unknown review state {error}; use {', '.join(REVIEW_STATE_PB)}") from None
        return self._call(
            self._stub.ListReviews,
            pb.ListReviewsRequest(states=codes, tenant=tenant, page_size=page_size, page_token=page_token),
        )

    def iter_reviews(self, *, states: Sequence[str] = (), tenant: str = "") -> Iterator[pb.Review]:
        token = ""
        while True:
            page = self.list_reviews(states=states, tenant=tenant, page_token=token)
            yield from page.reviews
            token = page.next_page_token
            if not token:
                return

    def get_review(self, review_id: str) -> pb.Review:
        return self._call(self._stub.GetReview, pb.GetReviewRequest(review_id=review_id))

    def approve_review(self, review_id: str, reason: str = "") -> pb.Review:
        """The held job is queued and runs."""
        request = pb.DecideReviewRequest(review_id=review_id, reason=reason)
        return self._call(self._stub.ApproveReview, request)

    def reject_review(self, review_id: str, reason: str) -> pb.Review:
        """The held job becomes REJECTED; the requester is shown `reason`."""
        return self._call(self._stub.RejectReview, pb.DecideReviewRequest(review_id=review_id, reason=reason))

    # --- policies ------------------------------------------------------------------------------------

    def get_policy(self, version: int = 0) -> pb.PolicyVersion:
        """`version` 0: the live one. `json.loads(result.document_json)` is the policy document."""
        return self._call(self._stub.GetPolicy, pb.GetPolicyRequest(version=version))

    def update_policy(
        self, document: dict[str, Any] | str, *, comment: str = "", base_version: int = 0
    ) -> pb.PolicyVersion:
        """Make a new version; with `base_version`, fails (Aborted) if someone changed it meanwhile."""
        text = document if isinstance(document, str) else json.dumps(document)
        return self._call(
            self._stub.UpdatePolicy,
            pb.UpdatePolicyRequest(document_json=text, comment=comment, base_version=base_version),
        )

    def list_policy_versions(
        self, *, page_size: int = 0, page_token: str = ""
    ) -> pb.ListPolicyVersionsResponse:
        return self._call(
            self._stub.ListPolicyVersions,
            pb.ListPolicyVersionsRequest(page_size=page_size, page_token=page_token),
        )

    def iter_policy_versions(self) -> Iterator[pb.PolicyVersion]:
        token = ""
        while True:
            page = self.list_policy_versions(page_token=token)
            yield from page.versions
            token = page.next_page_token
            if not token:
                return

    def diff_policies(self, from_version: int, to_version: int = 0) -> pb.DiffPoliciesResponse:
        return self._call(
            self._stub.DiffPolicies, pb.DiffPoliciesRequest(from_version=from_version, to_version=to_version)
        )

    def rollback_policy(self, to_version: int, *, comment: str = "") -> pb.PolicyVersion:
        """A new version with the document of `to_version`."""
        return self._call(
            self._stub.RollbackPolicy, pb.RollbackPolicyRequest(to_version=to_version, comment=comment)
        )

    def dry_run(
        self, prompt: str, *, policy_version: int = 0, policy_document: dict[str, Any] | str | None = None
    ) -> pb.DryRunModerationResponse:
        """What the live policy (or `policy_version`, or a draft document) would decide; nothing is stored."""
        draft = (
            ""
            if policy_document is None
            else (policy_document if isinstance(policy_document, str) else json.dumps(policy_document))
        )
        return self._call(
            self._stub.DryRunModeration,
            pb.DryRunModerationRequest(
                prompt=prompt, policy_version=policy_version, policy_document_json=draft
            ),
        )

    # --- API keys ------------------------------------------------------------------------------------

    def create_api_key(self, *, role: str, tenant: str, name: str = "") -> pb.CreateApiKeyResponse:
        """`result.secret` is the full key: it is shown this once and never again."""
        if role not in ROLE_PB:
            raise ValueError(f"unknown role {role!r}; use {', '.join(ROLE_PB)}")
        return self._call(
            self._stub.CreateApiKey, pb.CreateApiKeyRequest(role=ROLE_PB[role], tenant=tenant, name=name)
        )

    def list_api_keys(
        self, *, tenant: str = "", include_revoked: bool = False, page_size: int = 0, page_token: str = ""
    ) -> pb.ListApiKeysResponse:
        return self._call(
            self._stub.ListApiKeys,
            pb.ListApiKeysRequest(
                tenant=tenant, include_revoked=include_revoked, page_size=page_size, page_token=page_token
            ),
        )

    def iter_api_keys(self, *, tenant: str = "", include_revoked: bool = False) -> Iterator[pb.ApiKey]:
        token = ""
        while True:
            page = self.list_api_keys(tenant=tenant, include_revoked=include_revoked, page_token=token)
            yield from page.keys
            token = page.next_page_token
            if not token:
                return

    def revoke_api_key(self, key_id: str) -> pb.ApiKey:
        """Takes effect at once: the key's next call fails with Unauthenticated."""
        return self._call(self._stub.RevokeApiKey, pb.RevokeApiKeyRequest(key_id=key_id))

    # --- audit ---------------------------------------------------------------------------------------

    @staticmethod
    def _audit_request(
        *,
        job_id: str = "",
        actor: str = "",
        tenant: str = "",
        event_types: Sequence[str] = (),
        decision: str = "",
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> pb.SearchAuditRequest:
        return pb.SearchAuditRequest(
            job_id=job_id,
            actor=actor,
            tenant=tenant,
            event_types=list(event_types),
            decision=decision,
            start_time=to_timestamp(start),
            end_time=to_timestamp(end),
            page_size=page_size,
            page_token=page_token,
        )

    def search_audit(self, **filters: Any) -> pb.SearchAuditResponse:
        """One page of events, oldest first. Filters: job_id, actor (key id), tenant, event_types,
        decision (allow|review|block), start, end (datetimes; end exclusive), page_size, page_token."""
        return self._call(self._stub.SearchAudit, self._audit_request(**filters))

    def export_audit(self, **filters: Any) -> Iterator[common.AuditEvent]:
        """Every matching event, oldest first, streamed (the filters of `search_audit`, no paging)."""
        request = self._audit_request(**filters)
        try:
            yield from self._stub.ExportAudit(request, metadata=self._metadata, timeout=LONG_TIMEOUT_S)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def get_audit_event(self, seq: int) -> common.AuditEvent:
        return self._call(self._stub.GetAuditEvent, pb.GetAuditEventRequest(seq=seq))

    def get_checkpoint(self, *, create: bool = False) -> common.Checkpoint:
        """The latest signed checkpoint; `create` (admin) signs a new one over the current tree first."""
        return self._call(self._stub.GetCheckpoint, pb.GetCheckpointRequest(create=create))

    def verify_ledger(self) -> pb.VerifyLedgerResponse:
        """The server recomputes the whole tree and checks every checkpoint; `ok` and `problems`."""
        return self._call(self._stub.VerifyLedger, pb.VerifyLedgerRequest(), timeout=LONG_TIMEOUT_S)

    def inclusion_proof(self, seq: int, *, tree_size: int = 0) -> common.InclusionProof:
        request = pb.GetInclusionProofRequest(seq=seq, tree_size=tree_size)
        return self._call(self._stub.GetInclusionProof, request)

    def latest_checkpoint(self, *, stored: bool = False) -> common.Checkpoint:
        """The server's signed checkpoint over its whole log; check `note` with `transparency.checkpoint`.
        `stored`: the latest one it stored instead (what witnesses cosign together)."""
        return self._call(self._stub.GetLatestCheckpoint, pb.GetLatestCheckpointRequest(stored=stored))

    def consistency_proof(self, first_size: int, second_size: int = 0) -> common.ConsistencyProof:
        """Proof that the tree of `second_size` (0: current) extends the one of `first_size`."""
        request = pb.GetConsistencyProofRequest(first_size=first_size, second_size=second_size)
        return self._call(self._stub.GetConsistencyProof, request)

    def add_cosignature(self, note: str) -> pb.AddCosignatureResponse:
        """Hand the server a witness's cosignature: `note` is its checkpoint note with the line added."""
        return self._call(self._stub.AddCosignature, pb.AddCosignatureRequest(note=note))

    # --- statistics ----------------------------------------------------------------------------------

    def stats(
        self, *, start: datetime | None = None, end: datetime | None = None, tenant: str = ""
    ) -> pb.Stats:
        return self._call(
            self._stub.GetStats,
            pb.GetStatsRequest(start_time=to_timestamp(start), end_time=to_timestamp(end), tenant=tenant),
        )


__all__ = ["AdminClient", "VeriframeError", "message_to_dict"]
