"""The review queue's states and the ledger payloads (the prompt's keyed commitment only, never the
text nor a plain hash of it)."""

import datetime as dt
import hashlib
import json

import pytest

from veriframe.provenance.prompt_commitment import PromptKey, commit_prompt
from veriframe.safety import review as rv
from veriframe.safety.policy import default_policy
from veriframe.safety.screen import screen

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)
PROMPT = "Tom Hanks walking a golden retriever through Central Park"
KEY = PromptKey(b"k" * 32)
COMMITMENT = commit_prompt(PROMPT, KEY)


@pytest.fixture
def item() -> rv.ReviewItem:
    decision = screen(PROMPT, default_policy(), None)  # a listed person, no harmful context: review
    assert decision.decision == "review"
    return rv.open_review("job-1", decision, COMMITMENT, now=T0, ttl_seconds=3600)


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
        "job-2", screen(PROMPT, default_policy(), None), COMMITMENT, now=late, ttl_seconds=60
    )
    assert rv.sweep([item, other], now=late) == [expired]


def test_only_review_decisions_open_items_and_times_must_be_aware() -> None:
    blocked = screen("a n a k e d woman", default_policy(), None)
    with pytest.raises(rv.ReviewError, match="only a 'review' decision"):
        rv.open_review("job-3", blocked, COMMITMENT, now=T0, ttl_seconds=60)
    with pytest.raises(rv.ReviewError, match="timezone-aware"):
        rv.open_review(
            "job-3",
            screen(PROMPT, default_policy(), None),
            COMMITMENT,
            now=dt.datetime(2026, 1, 1),
            ttl_seconds=60,
        )


def test_a_plain_hash_or_the_text_is_refused_as_the_prompt_record() -> None:
    decision = screen(PROMPT, default_policy(), None)
    for plain in (hashlib.sha256(PROMPT.encode()).hexdigest(), PROMPT, {"value": "00" * 32}):
        with pytest.raises(rv.ReviewError, match="keyed commitment"):
            rv.open_review("job-4", decision, plain, now=T0, ttl_seconds=60)
        with pytest.raises(rv.ReviewError, match="keyed commitment"):
            rv.screened_event(decision, plain, job_id="job-4")


def test_event_payloads_carry_the_commitment_not_the_text_nor_its_hash(item: rv.ReviewItem) -> None:
    decision = screen(PROMPT, default_policy(), None)
    events = [
        rv.screened_event(
            decision, COMMITMENT, job_id="job-1", policy_digest=default_policy().digest()
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
        assert hashlib.sha256(PROMPT.encode()).hexdigest() not in text
        assert event["prompt_commitment"] == COMMITMENT
    assert events[0]["decision"] == "review" and events[0]["policy_version"] == default_policy().version
    assert events[1]["expires_at"] == "2026-11-24T13:00:00Z"
    with pytest.raises(rv.ReviewError, match="still pending"):
        rv.review_closed_event(item)
