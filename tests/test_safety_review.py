"""The review queue's states and the ledger payloads (prompt hash only, never the text)."""

import datetime as dt
import json

import pytest

from veriframe.safety import review as rv
from veriframe.safety.policy import default_policy
from veriframe.safety.screen import screen

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)
PROMPT = "Tom Hanks walking a golden retriever through Central Park"


@pytest.fixture
def item() -> rv.ReviewItem:
    decision = screen(PROMPT, default_policy(), None)  # a listed person, no harmful context: review
    assert decision.decision == "review"
    return rv.open_review("job-1", decision, rv.prompt_sha256(PROMPT), now=T0, ttl_seconds=3600)


def test_open_item_is_pending_until_its_expiry(item: rv.ReviewItem) -> None:
    assert item.state is rv.ReviewState.PENDING and item.is_open
    assert item.expires_at == T0 + dt.timedelta(hours=1)
    assert not rv.is_expired(item, T0 + dt.timedelta(minutes=59))
    assert rv.is_expired(item, T0 + dt.timedelta(hours=1))


def test_approve_and_reject_are_final(item: rv.ReviewItem) -> None:
    approved = rv.approve(item, "mod-7", now=T0 + dt.timedelta(minutes=5))
    assert approved.state is rv.ReviewState.APPROVED and approved.decided_by == "mod-7"
    assert item.state is rv.ReviewState.PENDING  # pure: the original is unchanged
    with pytest.raises(rv.ReviewError, match="already approved"):
        rv.reject(approved, "mod-8", now=T0 + dt.timedelta(minutes=6), reason="changed my mind")
    rejected = rv.reject(item, "mod-8", now=T0 + dt.timedelta(minutes=6), reason="impersonation")
    assert rejected.state is rv.ReviewState.REJECTED and rejected.reason == "impersonation"
    with pytest.raises(rv.ReviewError, match="needs a reason"):
        rv.reject(item, "mod-8", now=T0, reason=" ")


def test_expiry(item: rv.ReviewItem) -> None:
    late = T0 + dt.timedelta(hours=2)
    with pytest.raises(rv.ReviewError, match="expired"):
        rv.approve(item, "mod-7", now=late)
    with pytest.raises(rv.ReviewError, match="does not expire until"):
        rv.expire(item, now=T0 + dt.timedelta(minutes=1))
    expired = rv.expire(item, now=late)
    assert expired.state is rv.ReviewState.EXPIRED and expired.decided_by == "system"
    other = rv.open_review(
        "job-2", screen(PROMPT, default_policy(), None), "ab" * 32, now=late, ttl_seconds=60
    )
    assert rv.sweep([item, other], now=late) == [expired]


def test_only_review_decisions_open_items_and_times_must_be_aware() -> None:
    blocked = screen("a n a k e d woman", default_policy(), None)
    with pytest.raises(rv.ReviewError, match="only a 'review' decision"):
        rv.open_review("job-3", blocked, "00" * 32, now=T0, ttl_seconds=60)
    with pytest.raises(rv.ReviewError, match="timezone-aware"):
        rv.open_review(
            "job-3",
            screen(PROMPT, default_policy(), None),
            "00" * 32,
            now=dt.datetime(2026, 1, 1),
            ttl_seconds=60,
        )


def test_event_payloads_carry_the_hash_not_the_text(item: rv.ReviewItem) -> None:
    decision = screen(PROMPT, default_policy(), None)
    events = [
        rv.screened_event(
            decision, rv.prompt_sha256(PROMPT), job_id="job-1", policy_digest=default_policy().digest()
        ),
        rv.review_opened_event(item),
        rv.review_closed_event(rv.approve(item, "mod-7", now=T0)),
        rv.review_closed_event(rv.reject(item, "mod-7", now=T0, reason="no")),
        rv.review_closed_event(rv.expire(item, now=T0 + dt.timedelta(days=1))),
    ]
    assert [e["type"] for e in events] == [
        "screened",
        "review.opened",
        "review.approved",
        "review.rejected",
        "review.expired",
    ]
    for event in events:
        text = json.dumps(event)  # JSON-ready
        assert "Hanks" not in text and "golden" not in text
        assert event["prompt_sha256"] == rv.prompt_sha256(PROMPT)
    assert events[0]["decision"] == "review" and events[0]["policy_version"] == default_policy().version
    assert events[1]["expires_at"] == "2026-11-24T13:00:00Z"
    with pytest.raises(rv.ReviewError, match="still pending"):
        rv.review_closed_event(item)
