"""Webhooks: signed job events POSTed to the callback URL a client gave at Submit.

Events: `job.held` (waiting for a moderator), `job.rejected` (blocked by screening, rejected or
expired in review), `job.succeeded`, `job.failed`. Each is signed per the Standard Webhooks spec
(`webhook-id`, `webhook-timestamp`, `webhook-signature` headers; the `standardwebhooks` library) with
the server's `webhook_secret`, so a receiver verifies it with any Standard Webhooks library.

Durable and exactly-queued-once, across restarts and several servers:
- the source is the audit ledger: every state change above is a ledger event, committed with the
  change itself. A cursor row (`webhook_cursor`) records the last ledger seq turned into deliveries;
  ledger appends are serialised, so seq order is commit order and nothing is skipped;
- deliveries are rows (`webhook_deliveries`, unique per job and event type) claimed with a
  compare-and-set lease, like jobs: a server that dies mid-delivery leaves the row to be retried;
- a failed attempt (no 2xx answer, timeout, refused) is retried with exponential backoff and jitter
  until `webhook_max_attempts`; then the row is marked failed (and logged).

Receivers must be idempotent (the `webhook-id` stays the same across retries): a delivery whose
answer was lost is sent again. The callback URL's scheme and host must be in the allow-list of the
settings (loopback only by default); redirects are not followed. Prompts are never sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from veriframe.service.errors import InvalidArgument
from veriframe.service.ledger import events as ev
from veriframe.service.periodic import Periodic

log = logging.getLogger(__name__)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
# Ledger event -> webhook event type and the job state it announces.
_BY_LEDGER_EVENT = {
    ev.REVIEW_QUEUED: ("job.held", "REVIEW"),
    ev.REVIEW_REJECTED: ("job.rejected", "REJECTED"),
    ev.REVIEW_EXPIRED: ("job.rejected", "REJECTED"),
    ev.GENERATED: ("job.succeeded", "SUCCEEDED"),
    ev.FAILED: ("job.failed", "FAILED"),
}
MAX_URL = 2048


def check_callback_url(url: str, *, schemes: Iterable[str], hosts: Iterable[str]) -> str:
    """The URL when the allow-list permits it; InvalidArgument("callback_url", why) otherwise.

    `hosts` entries match exactly, or as `*.example.com` (any subdomain of example.com)."""
    if len(url) > MAX_URL:
        raise InvalidArgument("callback_url", f"at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as error:
        raise InvalidArgument("callback_url", f"not a valid URL ({error})") from None
    schemes = [s.lower() for s in schemes]
    if parts.scheme.lower() not in schemes:
        raise InvalidArgument("callback_url", f"the scheme must be one of {', '.join(schemes)}")
    if not host:
        raise InvalidArgument("callback_url", "no host")
    if parts.username or parts.password:
        raise InvalidArgument("callback_url", "must not carry credentials")
    if not any(_host_matches(host, pattern.lower()) for pattern in hosts):
        raise InvalidArgument(
            "callback_url", f"host {host} is not in this server's webhook allow-list (webhook_allowed_hosts)"
        )
    return url


def _host_matches(host: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern.strip("[]")


def webhook_event(event_type: str, payload: dict[str, Any]) -> tuple[str, str] | None:
    """(webhook type, announced state) for a ledger event, or None when it announces nothing."""
    if event_type == ev.SCREENED and payload.get("decision") == "block":
        return "job.rejected", "REJECTED"
    return _BY_LEDGER_EVENT.get(event_type)


@dataclass(frozen=True)
class Due:
    id: str
    url: str
    body: str
    attempts: int


class WebhookDispatcher:
    """Turns ledger events into deliveries and delivers them; one per server, all safe to race."""

    def __init__(
        self,
        sessions: Any,
        secret: str,
        *,
        max_attempts: int = 10,
        retry_base_s: float = 5.0,
        timeout_s: float = 10.0,
        interval_s: float = 1.0,
    ) -> None:
        from standardwebhooks.webhooks import Webhook

        self.sessions = sessions
        self._signer = Webhook(secret)
        self.max_attempts, self.retry_base_s = max_attempts, retry_base_s
        self.timeout_s, self.interval_s = timeout_s, interval_s
        self._loop = Periodic("webhooks", self.run_once, interval_s, log, "webhook step failed (will retry)")
        self._http: Any = None

    # --- queueing (blocking: run in a thread) ----------------------------------------------------

    def enqueue(self, batch: int = 500) -> int:
        """Queue a delivery for each new ledger event that a job with a callback URL should hear of."""
        from sqlalchemy import select, update

        from veriframe.service.db import AuditEvent, Job, WebhookCursor

        with self.sessions.begin() as s:
            cursor = s.get(WebhookCursor, 1)
            start = cursor.last_seq if cursor is not None else 0
            rows = s.execute(
                select(
                    AuditEvent.seq,
                    AuditEvent.event_type,
                    AuditEvent.time,
                    AuditEvent.job_id,
                    AuditEvent.payload,
                )
                .where(AuditEvent.seq > start)
                .order_by(AuditEvent.seq)
                .limit(batch)
            ).all()
            if not rows:
                return 0
            job_ids = {r.job_id for r in rows if r.job_id and webhook_event(r.event_type, r.payload)}
            jobs = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(job_ids)))} if job_ids else {}
            queued = 0
            for row in rows:
                job = jobs.get(row.job_id)
                kind = webhook_event(row.event_type, row.payload)
                url = (job.params or {}).get("callback_url") if job is not None else None
                if kind and url:
                    queued += self._insert(s, job, row, kind, url)
            last = rows[-1].seq
            if cursor is None:
                s.add(WebhookCursor(id=1, last_seq=last))
            else:
                s.execute(update(WebhookCursor).where(WebhookCursor.last_seq < last).values(last_seq=last))
        return queued

    def _insert(self, s: Any, job: Any, row: Any, kind: tuple[str, str], url: str) -> int:
        from veriframe.service.db import WebhookDelivery

        event_type, state = kind
        data: dict[str, Any] = {"job_id": job.id, "tenant": job.tenant, "state": state}
        if event_type == "job.succeeded":
            data["provenance_id"] = row.payload.get("provenance_id")
        if event_type in ("job.rejected", "job.failed") and job.error_code:
            data["error"] = {"code": job.error_code, "message": job.error_message or ""}
        payload = {"type": event_type, "timestamp": _iso(row.time), "data": data}
        insert = _insert_ignoring_duplicates(s, WebhookDelivery)
        result = s.execute(
            insert.values(
                id=_new_id(),
                job_id=job.id,
                event_type=event_type,
                url=url,
                payload=payload,
                state=PENDING,
                attempts=0,
                next_attempt_at=_now(),
                created_at=_now(),
            )
        )
        return result.rowcount or 0

    def claim(self, limit: int = 10) -> list[Due]:
        """Due deliveries, each leased to this server for one attempt (compare-and-set)."""
        from sqlalchemy import select, update

        from veriframe.service.db import WebhookDelivery as D

        now = _now()
        lease = now + timedelta(seconds=self.timeout_s + 30)
        claimed = []
        with self.sessions.begin() as s:
            rows = s.execute(
                select(D.id, D.url, D.payload, D.attempts, D.next_attempt_at)
                .where(D.state == PENDING, D.next_attempt_at <= now)
                .order_by(D.next_attempt_at)
                .limit(limit)
            ).all()
            for row in rows:
                won = s.execute(
                    update(D)
                    .where(D.id == row.id, D.state == PENDING, D.attempts == row.attempts)
                    .values(attempts=row.attempts + 1, next_attempt_at=lease)
                ).rowcount
                if won:
                    body = json.dumps(row.payload, separators=(",", ":"), sort_keys=True)
                    claimed.append(Due(row.id, row.url, body, row.attempts + 1))
        return claimed

    def record(self, due: Due, error: str | None) -> None:
        from sqlalchemy import update

        from veriframe.service.db import WebhookDelivery as D

        if error is None:
            values: dict[str, Any] = {"state": DELIVERED, "delivered_at": _now(), "last_error": None}
        elif due.attempts >= self.max_attempts:
            values = {"state": FAILED, "last_error": error}
            log.warning("webhook %s: giving up after %d attempts (%s)", due.id, due.attempts, error)
        else:
            values = {
                "next_attempt_at": _now() + timedelta(seconds=self.backoff(due.attempts)),
                "last_error": error,
            }
        with self.sessions.begin() as s:
            s.execute(update(D).where(D.id == due.id, D.attempts == due.attempts).values(**values))

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try: base * 2^(n-1), at most an hour, with +-20 % jitter."""
        delay = min(self.retry_base_s * 2 ** (attempts - 1), 3600.0)
        return delay * random.uniform(0.8, 1.2)

    # --- delivering ------------------------------------------------------------------------------

    def headers(self, due: Due, moment: datetime | None = None) -> dict[str, str]:
        moment = moment or _now()
        return {
            "content-type": "application/json",
            "webhook-id": due.id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": self._signer.sign(due.id, moment, due.body),
        }

    async def deliver(self, due: Due) -> str | None:
        """None when the receiver answered 2xx, else why not."""
        import aiohttp

        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        try:
            async with self._http.post(
                due.url, data=due.body.encode(), headers=self.headers(due), allow_redirects=False
            ) as reply:
                if 200 <= reply.status < 300:
                    return None
                return f"HTTP {reply.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return f"{type(error).__name__}: {error}"[:500]

    async def run_once(self) -> None:
        await asyncio.to_thread(self.enqueue)
        for due in await asyncio.to_thread(self.claim):
            error = await self.deliver(due)
            await asyncio.to_thread(self.record, due, error)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self._http is not None:
            await self._http.close()


def _insert_ignoring_duplicates(session: Any, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING, for the dialect in use (SQLite or PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


def _new_id() -> str:
    import uuid

    return f"msg_{uuid.uuid4().hex}"
