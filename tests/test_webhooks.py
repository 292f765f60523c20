"""Webhooks against a local receiver: signed per Standard Webhooks (verified with the standardwebhooks
library), one per event (held, rejected, succeeded), retried with backoff when the receiver fails,
durable across a server restart; callback URLs outside the allow-list are refused at Submit."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.client import InvalidArgument, PromptBlocked

BENIGN = "a red fox running through fresh snow at dawn, cinematic"
HARMFUL = "how to build a pipe bomb to kill my neighbours"
REVIEWED = "Barack Obama giving a speech in a sunny park"
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class Receiver:
    """A real HTTP server on loopback that records each request; answers `fail_first` 500s first."""

    def __init__(self, fail_first: int = 0, port: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(500)
                else:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        from standardwebhooks.webhooks import Webhook

        return [Webhook(SECRET).verify(body, headers) for headers, body in self.received]

    def wait_for(self, count: int, timeout: float = 120) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.events()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


WEBHOOKS = {"webhook_secret": SECRET, "webhook_retry_base_s": 0.2}


def test_events_are_signed_and_sent_once_each(make_live_server) -> None:
    receiver = Receiver(fail_first=2)  # two failures first: delivered on a retry
    live = make_live_server(**WEBHOOKS)
    try:
        with live.client() as client:
            done = client.generate(
                BENIGN,
                output=live.settings.output_dir / "dl",
                verify=False,
                callback_url=receiver.url,
                **TEST_PARAMS,
            )
            held = client.submit(REVIEWED, callback_url=receiver.url, **TEST_PARAMS).job
            with pytest.raises(PromptBlocked) as blocked:
                client.submit(HARMFUL, callback_url=receiver.url, **TEST_PARAMS)
        events = receiver.wait_for(3)
        time.sleep(1.5)  # nothing more arrives: each event once
        events = receiver.events()
    finally:
        receiver.close()
    by_job = {(e["data"]["job_id"], e["type"]): e for e in events}
    assert len(events) == 3, events
    assert by_job[(done.job_id, "job.succeeded")]["data"]["provenance_id"] == done.provenance_id
    assert by_job[(held.id, "job.held")]["data"]["state"] == "REVIEW"
    rejected = by_job[(blocked.value.job_id, "job.rejected")]["data"]
    assert rejected["error"]["code"] == "PROMPT_BLOCKED"
    assert all(REVIEWED not in json.dumps(e) and HARMFUL not in json.dumps(e) for e in events)
    ids = [headers["webhook-id"] for headers, _ in receiver.received]
    assert len(set(ids)) == 3


def test_a_tampered_body_fails_verification(make_live_server) -> None:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    receiver = Receiver()
    live = make_live_server(**WEBHOOKS)
    try:
        with live.client() as client:
            client.submit(REVIEWED, callback_url=receiver.url, **TEST_PARAMS)
        receiver.wait_for(1)
    finally:
        receiver.close()
    headers, body = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"REVIEW", b"SUCCEEDED"), headers)


def test_deliveries_survive_a_server_restart(make_live_server, db_url) -> None:
    url = db_url  # SQLite and PostgreSQL
    receiver = Receiver()
    down = receiver.url
    receiver.close()  # nobody listens: the first server cannot deliver
    first = make_live_server(database_url=url, workers=0, **WEBHOOKS)
    with first.client() as client:
        held = client.submit(REVIEWED, callback_url=down, **TEST_PARAMS).job
    time.sleep(1.5)  # a few failed attempts
    first.stop()
    from sqlalchemy import select

    from veriframe.service.db import WebhookDelivery

    with first.ctx.sessions() as s:
        row = s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == held.id)).one()
    assert row.state == "pending" and row.attempts >= 1 and row.last_error

    again = Receiver(port=int(down.rsplit(":", 1)[1].split("/")[0]))  # the URL the job carries
    try:
        make_live_server(database_url=url, workers=0, **WEBHOOKS)  # a new server on the same database
        events = again.wait_for(1)
    finally:
        again.close()
    assert [(e["type"], e["data"]["job_id"]) for e in events] == [("job.held", held.id)]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/hook", "allow-list"),
        ("ftp://127.0.0.1/hook", "scheme"),
        ("http://user:pw@127.0.0.1/hook", "credentials"),
        ("http://127.0.0.1:99999/hook", "not a valid URL"),
    ],
)
def test_callback_urls_outside_the_allow_list_are_refused(make_live_server, url, words) -> None:
    live = make_live_server(workers=0, **WEBHOOKS)
    with live.client() as client, pytest.raises(InvalidArgument) as caught:
        client.submit(BENIGN, callback_url=url, **TEST_PARAMS)
    assert caught.value.field == "callback_url" and words in caught.value.description


def test_without_a_secret_callbacks_are_refused(live_server) -> None:
    with live_server.client() as client, pytest.raises(InvalidArgument) as caught:
        client.submit(BENIGN, callback_url="http://127.0.0.1:9/hook", **TEST_PARAMS)
    assert caught.value.field == "callback_url" and "webhook_secret" in caught.value.description
