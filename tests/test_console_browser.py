"""The review console, end to end in a real browser: headless Chromium (the system's `chromium`) driven by
Playwright, against a real server (gRPC + HTTP port) with the tiny model and SQLite.

Held jobs are made through the gRPC API; the browser does the moderator's work; the outcome is read back
through the gRPC API and the ledger. Screenshots of every page go to the test's tmp dir, and also to
$VERIFRAME_CONSOLE_SCREENSHOTS when set (that is how docs/console/ is refreshed).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2

HELD = "Barack Obama giving a speech in a sunny park"  # a protected person: held for review
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking"]


def _need_browser() -> None:
    reason = None
    if CHROMIUM is None:
        reason = "no system Chromium (apt-get install chromium; .ci/run installs it)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (it is in the dev extra)"
    if reason:
        if os.environ.get("VERIFRAME_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (VERIFRAME_REQUIRE_BROWSER=1)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def console(make_live_server: Any) -> Any:
    live = make_live_server(http_listen="127.0.0.1:0")
    live.http = live.background.server.http_url
    return live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Any:
    where = [tmp_path_factory.mktemp("console-shots")]
    if os.environ.get("VERIFRAME_CONSOLE_SCREENSHOTS"):
        where.append(Path(os.environ["VERIFRAME_CONSOLE_SCREENSHOTS"]))

    def shoot(tab: Any, name: str) -> Path:
        for directory in where:
            directory.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(directory / f"{name}.png"), full_page=True)
        return where[0] / f"{name}.png"

    return shoot


def sign_in(tab: Any, console: Any, key: str) -> None:
    tab.goto(console.http + "/console/")
    assert "/console/signin" in tab.url  # not signed in yet: sent to the sign-in page
    tab.fill("#api_key", key)
    tab.click("button[type=submit]")


def held_job(console: Any, tenant: str) -> Any:
    with console.client("client", tenant) as client:
        job = client.submit(HELD, **TEST_PARAMS).job
    assert job.state == common_pb2.JOB_STATE_REVIEW and job.review_id
    return job


def ledger_events(console: Any, job_id: str) -> list[str]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with console.ctx.sessions() as s:
        return [e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.job_id == job_id)
                                                .order_by(AuditEvent.seq))]


def test_moderator_rejects_a_held_job_and_the_ledger_records_it(console: Any, page: Any, shots: Any) -> None:
    job = held_job(console, "t-console-reject")
    page.goto(console.http + "/console/signin")
    shots(page, "signin")
    sign_in(page, console, console.key("moderator", "ops"))
    page.wait_for_selector("table.queue")
    assert page.locator(f"tr[data-review='{job.review_id}']").count() == 1
    shots(page, "queue")
    page.goto(console.http + f"/console/reviews/{job.review_id}")
    assert page.inner_text("#prompt") == HELD
    assert "obama" in page.inner_text("#normalised")
    assert page.inner_text("#rule")  # the rule that fired is shown to staff
    shots(page, "review-item")
    page.fill("#reason", "depicts a real public figure without consent")
    page.click("button.reject")
    page.wait_for_url("**/console/")
    with console.client("client", "t-console-reject") as client:
        after = client.get_job(job.id)
    assert after.state == common_pb2.JOB_STATE_REJECTED
    events = ledger_events(console, job.id)
    assert "console.prompt_viewed" in events and events[-1] == "review.rejected"
    assert events.index("console.prompt_viewed") < events.index("review.rejected")


def test_approve_by_keyboard_runs_the_job(console: Any, page: Any) -> None:
    job = held_job(console, "t-console-approve")
    sign_in(page, console, console.key("moderator", "ops"))
    page.goto(console.http + f"/console/reviews/{job.review_id}")
    with page.expect_navigation():
        page.keyboard.press("a")
    deadline = time.monotonic() + 120
    with console.client("client", "t-console-approve") as client:
        while (state := client.get_job(job.id).state) not in (
            common_pb2.JOB_STATE_SUCCEEDED, common_pb2.JOB_STATE_FAILED
        ) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert state == common_pb2.JOB_STATE_SUCCEEDED
    assert "review.approved" in ledger_events(console, job.id)


def test_a_client_key_cannot_sign_in(console: Any, page: Any) -> None:
    sign_in(page, console, console.key("client", "acme"))
    assert "/console/signin" in page.url
    assert "moderators and admins only" in page.inner_text("[role=alert]")
    assert not [c for c in page.context.cookies() if c["name"] == "vf_console"]
    page.goto(console.http + "/console/audit")  # still no way in
    assert "/console/signin" in page.url


def test_an_unknown_key_is_refused_and_sign_in_is_rate_limited(console: Any, page: Any) -> None:
    statuses = []
    for _ in range(8):
        response = page.request.post(console.http + "/console/signin", form={"api_key": "vf_nope_nothing"})
        statuses.append(response.status)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429  # 5 failures at once, then one every 6 s
    wait = float(response.headers["retry-after"])
    good = console.key("moderator", "ops")
    refused = page.request.post(console.http + "/console/signin", form={"api_key": good})
    assert refused.status == 429  # while locked, even a good key waits: guessing stays slow
    time.sleep(wait + 0.5)
    sign_in(page, console, console.key("moderator", "ops"))
    page.wait_for_selector("h1")
    assert "/console/signin" not in page.url


def test_a_post_without_the_csrf_token_is_refused(console: Any, page: Any) -> None:
    job = held_job(console, "t-console-csrf")
    sign_in(page, console, console.key("moderator", "ops"))
    page.wait_for_selector("table.queue")
    url = console.http + f"/console/reviews/{job.review_id}/decision"
    no_token = page.request.post(url, form={"decision": "approve"})
    wrong_token = page.request.post(url, form={"decision": "approve", "csrf": "forged"})
    assert no_token.status == 403 and wrong_token.status == 403
    assert "security token" in no_token.text()
    page.goto(console.http + f"/console/reviews/{job.review_id}")
    token = page.get_attribute("#approve-form input[name=csrf]", "value")
    cross_site = page.request.post(url, form={"decision": "approve", "csrf": token},
                                   headers={"Origin": "http://evil.example"})
    assert cross_site.status == 403
    with console.client("client", "t-console-csrf") as client:
        assert client.get_job(job.id).state == common_pb2.JOB_STATE_REVIEW  # nothing happened


def test_the_audit_page_checks_the_proof_in_the_browser_and_flags_a_tampered_one(
    console: Any, page: Any, shots: Any
) -> None:
    job = held_job(console, "t-console-audit")
    sign_in(page, console, console.key("moderator", "ops"))
    page.goto(console.http + f"/console/audit?job_id={job.id}")
    shots(page, "audit")
    page.click("table.events a >> nth=0")
    page.wait_for_selector("#proof[data-result]")
    assert page.get_attribute("#proof", "data-result") == "verified", page.inner_text("#proof")
    assert "Verified in your browser" in page.inner_text("#proof-status")
    shots(page, "audit-event")

    def tamper(route: Any) -> None:
        proof = route.fetch().json()
        path = proof["path"]
        if path:
            path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
        else:  # a one-leaf tree: change the leaf instead
            proof["leaf_b64"] = proof["leaf_b64"][:-4] + "AAA="
        route.fulfill(status=200, content_type="application/json", body=json.dumps(proof))

    page.route("**/proof.json", tamper)
    page.reload()
    page.wait_for_selector("#proof[data-result]")
    assert page.get_attribute("#proof", "data-result") == "failed"
    assert "FAILED" in page.inner_text("#proof-status")


def test_an_admin_dry_runs_and_publishes_a_policy_change(console: Any, page: Any, shots: Any) -> None:
    held_job(console, "t-console-policy")
    sign_in(page, console, console.key("admin", "ops"))
    page.goto(console.http + "/console/policies")
    shots(page, "policies")
    document = json.loads(page.input_value("#document"))
    version = int(document.get("version", 1))
    document["protected_persons"] = []  # held prompts naming a public figure would now pass
    page.fill("#document", json.dumps(document))
    page.fill("#comment", "console test: no protected persons")
    page.click("text=Dry run against recent prompts")
    assert "would change" in page.inner_text("#flip-count")
    assert page.locator("table.flips tbody tr").count() >= 1
    shots(page, "policy-dry-run")
    page.click("button:has-text('Publish')")
    page.wait_for_url("**/console/policies?published=*")
    page.goto(console.http + f"/console/policies/diff?from={version}&to=0")
    assert "protected_persons" in page.inner_text("main")
    shots(page, "policy-diff")
    # Leave the shipped policy in force for the other tests of this module.
    from veriframe.service.store import policies

    with console.ctx.sessions() as s:
        live = policies.live_record(s).version
    from veriframe.service.client.admin import AdminClient

    with AdminClient(console.address, api_key=console.key("admin", "ops")) as admin:
        admin.rollback_policy(version, comment="console test: restore")
    assert live == version + 1


def test_a_moderator_sees_the_policy_but_cannot_publish(console: Any, page: Any) -> None:
    sign_in(page, console, console.key("moderator", "ops"))
    page.goto(console.http + "/console/policies")
    assert page.locator("#document").count() == 0 and "Only admins" in page.inner_text("main")
    page.goto(console.http + "/console/policies")
    token = page.get_attribute("input[name=csrf]", "value")
    refused = page.request.post(console.http + "/console/policies/publish",
                                form={"csrf": token, "document": "{}"})
    assert refused.status == 403 and "may not call UpdatePolicy" in refused.text()


def test_verify_a_file_explains_the_verdict(console: Any, page: Any, shots: Any, tmp_path: Path) -> None:
    with console.client("client", "t-console-verify") as client:
        result = client.generate("a lighthouse at dusk, waves", output=tmp_path, **TEST_PARAMS)
    sign_in(page, console, console.key("moderator", "ops"))
    page.goto(console.http + "/console/verify")
    page.set_input_files("#file", str(result.path))
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#verdict", timeout=120_000)
    text = page.inner_text("#verdict")
    assert "Made by this service, and unchanged" in text and "invisible watermark is present" in text
    shots(page, "verify")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    page.set_input_files("#file", str(junk))
    page.click("#verify-form button[type=submit]")
    page.wait_for_selector("#verdict")
    assert "could not" in page.inner_text("#verdict")


def test_failures_get_readable_error_pages(console: Any, page: Any, shots: Any) -> None:
    sign_in(page, console, console.key("moderator", "ops"))
    page.wait_for_selector("table.queue, .counts")
    missing = page.goto(console.http + "/console/reviews/no-such-review")
    assert missing.status == 404 and "not found" in page.inner_text("main").lower()
    shots(page, "error")
    nowhere = page.goto(console.http + "/console/no-such-page")
    assert nowhere.status == 404 and "no console page" in page.inner_text("main")
    bad = page.goto(console.http + "/console/audit/99999999999999999999999")
    assert bad.status == 400
    page.click("text=Sign out")
    page.wait_for_url("**/console/signin")
    page.goto(console.http + "/console/audit")
    assert "/console/signin" in page.url  # the session is gone


def test_a_moderator_works_a_queue_of_50_from_the_keyboard(console: Any, page: Any, tmp_path: Path) -> None:
    """50 held items decided with the keyboard alone; the figures go to docs/console.md."""
    tenant = "t-console-50"
    with console.client("client", tenant) as client:
        jobs = [client.submit(f"{HELD}, take {i}", **TEST_PARAMS).job for i in range(50)]
    assert all(j.state == common_pb2.JOB_STATE_REVIEW for j in jobs)
    sign_in(page, console, console.key("moderator", "ops"))
    page.goto(console.http + f"/console/?tenant={tenant}")
    keys = 0
    started = time.monotonic()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # open the oldest
    keys += 1
    for i in range(50):
        assert page.inner_text("#review-state") == "pending"
        with page.expect_navigation():
            if i % 5 == 4:  # every fifth is rejected, with a typed reason
                page.keyboard.press("r")
                page.keyboard.type("real person")
                page.keyboard.press("Enter")
                keys += 2 + len("real person")
            else:
                page.keyboard.press("a")
                keys += 1
    assert "/console/?" in page.url  # the last decision leads back to the (now empty) filtered queue
    elapsed = time.monotonic() - started
    states = []
    with console.client("client", tenant) as client:
        for job in jobs:
            states.append(client.get_job(job.id).state)
    assert states.count(common_pb2.JOB_STATE_REJECTED) == 10
    assert common_pb2.JOB_STATE_REVIEW not in states
    approved_keys = (keys - 1 - 10 * (2 + len("real person"))) / 40
    figures = {"decisions": 50, "keystrokes": keys, "clicks": 0, "seconds": round(elapsed, 1),
               "seconds_per_decision": round(elapsed / 50, 2), "keystrokes_per_approval": approved_keys}
    figures.update(cli_seconds_per_decision(console))
    (tmp_path / "console-queue-50.json").write_text(json.dumps(figures))
    print("console queue of 50:", figures)
    assert approved_keys == 1 < figures["cli_keystrokes_per_approval"]


def cli_seconds_per_decision(console: Any, n: int = 3) -> dict[str, float]:
    """The same work with `veriframe-admin`: list, then approve by id, one process per decision."""
    import subprocess
    import sys

    tenant = "t-console-cli"
    with console.client("client", tenant) as client:
        jobs = [client.submit(f"{HELD}, cli take {i}", **TEST_PARAMS).job for i in range(n)]
    env = {**os.environ, "VERIFRAME_API_KEY": console.key("moderator", "ops"),
           "VERIFRAME_SERVER": console.address}
    command = [str(Path(sys.executable).parent / "veriframe-admin")]
    started = time.monotonic()
    for job in jobs:
        done = subprocess.run([*command, "review", "approve", job.review_id], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    typed = len(f"veriframe-admin review approve {jobs[0].review_id}") + 1  # + Enter, id pasted by hand
    return {"cli_seconds_per_decision": round((time.monotonic() - started) / n, 2),
            "cli_keystrokes_per_approval": typed}
