"""API keys, roles, tenants and rate limits.

Key format: `vf_<prefix>_<secret>`: `prefix` (12 hex digits) is public and finds the row; `secret`
(32 random bytes, URL-safe base64) is stored only as its SHA-256 (a fast hash is enough for a
256-bit random secret: there is nothing to brute-force) and compared in constant time. Keys travel
in the `authorization` metadata as `Bearer <key>`. Secrets are never logged: messages name the prefix.

Roles and what each may call: `ROLE_MATRIX` (one row per RPC; an RPC missing from it is denied).
Tenancy: a client sees only its own tenant's jobs (the workflow filters by `Principal.tenant`);
moderators and admins act on every tenant through ModerationAdmin.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from veriframe.service.clock import utcnow
from veriframe.service.errors import InvalidArgument, PermissionDenied, ResourceExhausted, Unauthenticated
from veriframe.service.roles import ROLES, STAFF

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

KEY_PREFIX = "vf"
_TENANT_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")

_GEN = "/veriframe.v1.Generation/"
_VER = "/veriframe.v1.Verification/"
_ADM = "/veriframe.v1.ModerationAdmin/"
_ANY = frozenset(ROLES)
_CLIENTS = frozenset({"client", "admin"})
_ADMIN = frozenset({"admin"})

# Who may call what. Generation is for clients (an admin may generate too, e.g. for a smoke test);
# moderators only moderate; verifiers only verify.
ROLE_MATRIX: dict[str, frozenset[str]] = {
    **{_GEN + m: _CLIENTS for m in ("Submit", "StreamEvents", "GetJob", "ListJobs", "CancelJob", "Download")},
    _VER + "Verify": _ANY,
    # Transparency: checkpoints and consistency proofs name no tenant: anyone with a key may hold
    # the log to account. A cosignature proves itself (a configured witness's Ed25519 signature), so
    # whoever relays it needs no more than a key either.
    **{_ADM + m: _ANY for m in ("GetLatestCheckpoint", "GetConsistencyProof", "AddCosignature")},
    **{
        _ADM + m: STAFF
        for m in (
            "ListReviews",
            "GetReview",
            "ApproveReview",
            "RejectReview",
            "GetPolicy",
            "ListPolicyVersions",
            "DiffPolicies",
            "DryRunModeration",
            "SearchAudit",
            "GetAuditEvent",
            "ExportAudit",
            "GetCheckpoint",
            "VerifyLedger",
            "GetInclusionProof",
            "GetStats",
        )
    },
    **{
        _ADM + m: _ADMIN
        for m in (
            "UpdatePolicy",
            "RollbackPolicy",
            "CreateApiKey",
            "ListApiKeys",
            "RevokeApiKey",
        )
    },
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (the ledger's `actor`), role and tenant."""

    key_id: str
    role: str
    tenant: str
    prefix: str

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


@dataclass(frozen=True)
class NewKey:
    key_id: str
    prefix: str
    secret: str  # the full `vf_<prefix>_<secret>` string: shown once, never stored
    role: str
    tenant: str


def hash_secret(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str]:
    """(prefix, secret) of `vf_<prefix>_<secret>`; Unauthenticated for anything else."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        raise Unauthenticated("malformed API key (expected vf_<prefix>_<secret>)")
    return parts[1], parts[2]


def validate_role_tenant(role: str, tenant: str) -> None:
    if role not in ROLES:
        raise InvalidArgument("role", f"must be one of {', '.join(ROLES)}")
    if not _TENANT_RE.fullmatch(tenant or ""):
        raise InvalidArgument("tenant", "1-128 letters, digits, '-', '_' or '.'")


def create_key(session: Session, *, role: str, tenant: str, name: str = "") -> NewKey:
    """Insert a new key into `session` (the caller commits, together with its ledger record)."""
    from veriframe.service.db import ApiKey

    validate_role_tenant(role, tenant)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    row = ApiKey(prefix=prefix, secret_hash=hash_secret(secret), role=role, tenant=tenant, name=name[:255])
    session.add(row)
    session.flush()
    full = f"{KEY_PREFIX}_{prefix}_{secret}"
    return NewKey(key_id=row.id, prefix=prefix, secret=full, role=role, tenant=tenant)


def key_from_metadata(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    for name, value in metadata or ():
        if name.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization metadata must be 'Bearer <api key>'")
            return token.strip()
    raise Unauthenticated("missing API key: send 'authorization: Bearer <api key>' metadata")


class TokenBucket:
    """`rate` tokens per second up to `burst`; thread-safe. One per key, in this process."""

    def __init__(self, rate: float, burst: int, clock: callable = time.monotonic) -> None:  # type: ignore[valid-type]
        self.rate, self.burst, self._clock = rate, float(burst), clock
        self._tokens = float(burst)
        self._at = clock()
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Seconds until a token is available (0.0 when one is), without taking it."""
        with self._lock:
            tokens = min(self.burst, self._tokens + (self._clock() - self._at) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until one is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


class FailureLimiter:
    """Requests with a missing, malformed, unknown or revoked key, per client address: each one takes
    a token; an address with none left is answered RESOURCE_EXHAUSTED before its key is looked up,
    until the bucket refills. Valid keys never take a token. At most `max_addresses` are tracked (the
    least recently failing are forgotten), so a scan from many addresses cannot exhaust memory."""

    def __init__(self, *, per_minute: float, burst: int, max_addresses: int = 10_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = burst
        self._max = max_addresses
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            bucket = self._buckets.get(address)
        wait = bucket.wait() if bucket is not None else 0.0
        if wait > 0:
            raise ResourceExhausted(
                "too many requests with an invalid API key from this address",
                retry_after=wait,
                reason="INVALID_KEY_RATE_LIMITED",
            )

    def record(self, address: str) -> None:
        if self._rate <= 0:
            return
        with self._lock:
            bucket = self._buckets.pop(address, None) or TokenBucket(self._rate, self._burst)
            self._buckets[address] = bucket  # most recent last
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        bucket.take()


class Authenticator:
    """Looks the key up on every call, so a revocation takes effect at once on every server."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        rate_per_minute: float,
        burst: int,
        failures_per_minute: float = 30.0,
        failure_burst: int = 20,
        shared_limiter: Any = None,
    ) -> None:
        """`shared_limiter`: a `ratelimit.SharedRateLimiter` shared by every API server; without one,
        each process has its own token bucket per key."""
        self._sessions = sessions
        self._shared = shared_limiter
        self._rate = rate_per_minute / 60.0
        self._burst = burst
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()
        self.failures = FailureLimiter(per_minute=failures_per_minute, burst=failure_burst)

    def authenticate(self, key: str) -> Principal:
        """The principal for `key` (blocking: a DB lookup). Unauthenticated for unknown/revoked keys."""
        from sqlalchemy import select

        from veriframe.service.db import ApiKey, unavailable_as_error

        prefix, secret = parse_key(key)
        with unavailable_as_error(), self._sessions() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
        # Compare even when there is no row, so timing does not tell which prefixes exist.
        stored = row.secret_hash if row is not None else hash_secret(secrets.token_urlsafe(8))
        if not hmac.compare_digest(stored, hash_secret(secret)) or row is None:
            raise Unauthenticated(f"unknown API key (prefix {prefix})")
        if row.revoked_at is not None:
            raise Unauthenticated(f"API key {prefix} was revoked")
        return Principal(key_id=row.id, role=row.role, tenant=row.tenant, prefix=prefix)

    def authorize(self, principal: Principal, method: str) -> None:
        """PermissionDenied unless the role may call `method`; ResourceExhausted over the rate limit."""
        allowed = ROLE_MATRIX.get(method)
        if allowed is None or principal.role not in allowed:
            name = method.rsplit("/", 1)[-1]
            raise PermissionDenied(f"role '{principal.role}' may not call {name}")
        wait = self._shared.take(principal.key_id) if self._shared is not None else self._local(principal)
        if wait > 0:
            raise ResourceExhausted(f"rate limit of API key {principal.prefix} exceeded", retry_after=wait)

    def _local(self, principal: Principal) -> float:
        with self._lock:
            bucket = self._buckets.get(principal.key_id)
            if bucket is None:
                bucket = self._buckets[principal.key_id] = TokenBucket(self._rate, self._burst)
        return bucket.take()


def revoke(session: Session, key_id: str) -> None:
    from veriframe.service.db import ApiKey

    row = session.get(ApiKey, key_id)
    if row is None:
        from veriframe.service.errors import NotFound

        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()


def create_key_recorded(
    sessions: sessionmaker[Session], ledger: object, *, role: str, tenant: str, name: str = "", actor: str
) -> NewKey:
    """Create a key and its `admin.key_created` ledger record in one transaction."""
    from veriframe.service.db import unavailable_as_error
    from veriframe.service.ledger import events as ev

    with unavailable_as_error(), sessions.begin() as session:
        new = create_key(session, role=role, tenant=tenant, name=name)
        ledger.append(
            ev.ADMIN_KEY_CREATED,  # type: ignore[attr-defined]
            ev.key_created(key_id=new.key_id, prefix=new.prefix, role=role, tenant=tenant, name=name),
            actor=actor,
            tenant=tenant,
            session=session,
        )
    return new


def revoke_recorded(
    sessions: sessionmaker[Session], ledger: object, key_id: str, *, actor: str, reason: str | None = None
) -> None:
    """Revoke a key (effective at once on every server) with its `admin.key_revoked` record."""
    from veriframe.service.db import ApiKey, unavailable_as_error
    from veriframe.service.ledger import events as ev

    with unavailable_as_error(), sessions.begin() as session:
        revoke(session, key_id)
        tenant = session.get(ApiKey, key_id).tenant  # type: ignore[union-attr]
        ledger.append(
            ev.ADMIN_KEY_REVOKED,
            ev.key_revoked(key_id=key_id, reason=reason),  # type: ignore[attr-defined]
            actor=actor,
            tenant=tenant,
            session=session,
        )


def bootstrap_key(database_url: str, *, role: str, tenant: str, name: str = "") -> NewKey:
    """`veriframe keys create`: migrate the database if needed and create a key (e.g. the first admin)."""
    from veriframe.service.db import make_engine, session_factory, upgrade
    from veriframe.service.ledger import Ledger

    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        sessions = session_factory(engine)
        return create_key_recorded(
            sessions, Ledger(sessions), role=role, tenant=tenant, name=name, actor="system:cli"
        )
    finally:
        engine.dispose()
