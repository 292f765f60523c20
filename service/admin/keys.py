"""API keys: create, list, revoke (each with its ledger record)."""

from __future__ import annotations

from typing import Any

from veriframe.service.admin.base import AdminBase
from veriframe.service.admin.views import (
    CreatedKey,
    KeyView,
    authorize,
    page_bounds,
)
from veriframe.service.auth import Principal
from veriframe.service.clock import aware
from veriframe.service.errors import NotFound
from veriframe.service.ledger import events as ev


class KeysAdmin(AdminBase):
    """API keys."""

    def create_api_key(self, principal: Principal, *, role: str, tenant: str, name: str = "") -> CreatedKey:
        """A new key; its secret is in the result and nowhere else. `admin.key_created`, same transaction."""
        from veriframe.service import auth
        from veriframe.service.db import ApiKey

        authorize(principal, "CreateApiKey")
        new = auth.create_key_recorded(
            self._sessions, self._ledger, role=role, tenant=tenant, name=name, actor=principal.key_id
        )
        with self._sessions() as s:
            view = self._key_view(s.get(ApiKey, new.key_id), principal.key_id)
        return CreatedKey(view, new.secret)

    def list_api_keys(
        self,
        principal: Principal,
        *,
        tenant: str | None = None,
        include_revoked: bool = False,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> tuple[list[KeyView], str]:
        from sqlalchemy import select

        from veriframe.service.db import ApiKey, AuditEvent

        authorize(principal, "ListApiKeys")
        size, offset = page_bounds(page_size, page_token)
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
            creators = (
                dict(
                    s.execute(
                        select(AuditEvent.payload["key_id"].as_string(), AuditEvent.actor).where(
                            AuditEvent.event_type == ev.ADMIN_KEY_CREATED,
                            AuditEvent.payload["key_id"].as_string().in_(ids),
                        )
                    ).all()
                )
                if ids
                else {}
            )
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
        return KeyView(
            row.id,
            row.prefix,
            row.role,
            row.tenant,
            row.name or "",
            aware(row.created_at),  # type: ignore[arg-type]
            aware(row.revoked_at),
            created_by,
        )
