"""Console sign-in sessions: an API key exchanged once for a server-side session.

The browser holds only a random session id (cookie `HttpOnly`, `SameSite=Strict`, `Secure` under TLS);
the key itself is never stored, neither in the browser nor here. Each session has an idle and an
absolute expiry and its own CSRF token, which every state-changing form must send back.

Sessions live in this process's memory: a restart signs everyone out, and with several API processes
behind a load balancer the console needs sticky sessions (docs/console.md).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from veriframe.service.auth import Principal, TokenBucket

COOKIE = "vf_console"


@dataclass
class ConsoleSession:
    id: str
    principal: Principal
    csrf: str
    created: float
    last_seen: float
    # Review items already opened in this session, so a re-render does not log a second prompt view.
    viewed: set[str] = field(default_factory=set)

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf, token or "")


SESSION: web.RequestKey[ConsoleSession | None] = web.RequestKey("session", object)  # type: ignore[arg-type]
FORM: web.RequestKey[object] = web.RequestKey("form", object)


class SessionStore:
    """Thread-safe in-memory sessions with idle and absolute expiry."""

    def __init__(
        self, *, idle_s: float, absolute_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, ConsoleSession] = {}

    def create(self, principal: Principal) -> ConsoleSession:
        now = self._clock()
        session = ConsoleSession(secrets.token_urlsafe(32), principal, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ConsoleSession | None:
        """The live session for `session_id`, touched; None when unknown or expired."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s or now - session.created > self.absolute_s:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def end_for_key(self, key_id: str) -> None:
        """Sign out every session of a key (e.g. after it is revoked)."""
        with self._lock:
            for sid in [s.id for s in self._sessions.values() if s.principal.key_id == key_id]:
                del self._sessions[sid]

    def _expire(self, now: float) -> None:
        dead = [sid for sid, s in self._sessions.items()
                if now - s.last_seen > self.idle_s or now - s.created > self.absolute_s]
        for sid in dead:
            del self._sessions[sid]


class SignInLimiter:
    """Failed sign-ins per client address: a token bucket each, so guessing keys is slow, while a
    moderator who signs in correctly is never held up by it."""

    def __init__(self, *, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, TokenBucket] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after(self, address: str) -> float:
        """0 when `address` may try now, else the seconds it must wait."""
        with self._lock:
            return max(0.0, self._locked_until.get(address, 0.0) - self._clock())

    def failed(self, address: str) -> None:
        """Count a failed sign-in; past the burst, the address waits for the bucket to refill."""
        with self._lock:
            if len(self._buckets) > 10_000:  # bounded memory under a spray of addresses
                self._buckets.clear()
                self._locked_until.clear()
            bucket = self._buckets.get(address)
            if bucket is None:
                bucket = TokenBucket(self._per_minute / 60.0, self._burst, self._clock)
                self._buckets[address] = bucket
            wait = bucket.take()
            if wait > 0:
                self._locked_until[address] = self._clock() + wait
