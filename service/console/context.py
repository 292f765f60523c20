"""What the console needs from the running server, in one object built at mount time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from veriframe.service.auth import STAFF, Principal
from veriframe.service.console.sessions import SessionStore, SignInLimiter
from veriframe.service.errors import PermissionDenied, Unauthenticated

log = logging.getLogger("veriframe.console")
ADMIN_RPC = "/veriframe.v1.ModerationAdmin/"


@dataclass
class ConsoleContext:
    server: Any  # the server's context: sessions, ledger, workflow, auth, notifier, settings
    admin: Any  # the admin domain (veriframe.service.admin.AdminService): the gRPC API's own code
    sessions: SessionStore
    limiter: SignInLimiter
    secure_cookies: bool

    @classmethod
    def from_server(cls, ctx: Any) -> ConsoleContext:
        settings = ctx.settings
        return cls(
            server=ctx,
            admin=ctx.admin,  # the same AdminService object the ModerationAdmin servicer calls
            sessions=SessionStore(idle_s=settings.console_idle_minutes * 60.0,
                                  absolute_s=settings.console_session_hours * 3600.0),
            limiter=SignInLimiter(per_minute=settings.console_signin_per_minute, burst=5),
            secure_cookies=settings.tls_cert is not None,
        )

    def sign_in(self, key: str) -> Principal:
        """The staff principal for `key`; Unauthenticated / PermissionDenied otherwise (blocking)."""
        principal = self.server.auth.authenticate(key)
        if principal.role not in STAFF:
            raise PermissionDenied(f"the console is for moderators and admins, not role '{principal.role}'")
        return principal

    def check(self, principal: Principal, rpc: str) -> None:
        """The gRPC API's own authorisation for `rpc`, plus a fresh look at the key (revocation is
        immediate in the console too). Blocking: a database lookup."""
        from veriframe.service.db import ApiKey

        with self.server.sessions() as s:
            row = s.get(ApiKey, principal.key_id)
            if row is None or row.revoked_at is not None:
                self.sessions.end_for_key(principal.key_id)
                raise Unauthenticated("this API key was revoked: the session has ended")
        self.server.auth.authorize(principal, rpc if rpc.startswith("/") else ADMIN_RPC + rpc)
