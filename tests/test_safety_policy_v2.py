"""Policy schema 2: category actions, the "any unsafe" threshold and media rules; schema 1 unchanged."""

import hashlib
import json

import pytest

from veriframe.safety.categories import CATEGORIES, DEFAULT_ACTIONS
from veriframe.safety.policy import MediaPolicy, Policy, PolicyError, ProtectedFace, Thresholds

SCHEMA1 = {
    "version": 4,
    "name": "tenant",
    "comment": "stored before schema 2",
    "thresholds": {"sexual": {"review": 0.6, "block": 0.9}},
    "block_terms": {"violence": ["beheading"]},
    "review_terms": {},
    "block_patterns": {},
    "allow_phrases": ["naked eye"],
    "protected_persons": [{"name": "Jane Example", "aliases": []}],
    "person_mention_action": "review",
    "person_context_terms": {},
    "minor_terms": [],
    "max_prompt_chars": 8000,
    "review_ttl_seconds": 86400,
}


def test_schema1_document_keeps_its_digest_and_behaviour():
    p = Policy.from_dict(json.loads(json.dumps(SCHEMA1)))
    canonical = json.dumps(SCHEMA1, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert p.digest() == hashlib.sha256(canonical.encode()).hexdigest()
    assert p.to_dict() == SCHEMA1  # no schema-2 keys appear
    assert p.schema == 1 and p.action_for("public-figure") == "block"  # v1: everything it flags may block
    assert p.media_policy == MediaPolicy()


def test_schema2_round_trips_with_media_and_actions():
    face = ProtectedFace("Jane Example", tuple(float(i) / 1000 for i in range(128)), "admin", "2026-12-01")
    p = Policy.from_dict(SCHEMA1).new_version(
        "v2",
        schema=2,
        category_actions={**DEFAULT_ACTIONS, "copyright": "allow"},
        any_unsafe=Thresholds(review=0.7),
        media=MediaPolicy(consent_attested=True, protected_faces=(face,), output_action="fail"),
    )
    back = Policy.from_json(p.to_json())
    assert back == p and back.digest() == p.digest()
    assert back.action_for("copyright") == "allow" and back.action_for("public-figure") == "review"
    assert back.media_policy.protected_faces[0].embedding[5] == pytest.approx(0.005)
    assert set(DEFAULT_ACTIONS) == set(CATEGORIES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category_actions": {"sexual": "review"}}, "schema"),
        ({"schema": 2, "category_actions": {"sexual/minors": "review"}}, "cannot be softened"),
        ({"schema": 2, "category_actions": {"nonsense": "block"}}, "unknown category"),
        ({"schema": 2, "category_actions": {"hate": "maybe"}}, "allow, review or block"),
        ({"schema": 2, "any_unsafe": {"review": 1.5, "block": None}}, "any_unsafe.review"),
        ({"schema": 2, "media": {"face_action": "shrug"}}, "media.face_action"),
        ({"schema": 2, "media": {"nudity_review": 0.9, "nudity_block": 0.5}}, "nudity_review"),
        ({"schema": 2, "media": {"protected_faces": [{"name": "x", "embedding": [0.1] * 3}]}}, "128"),
        ({"schema": 2, "media": {"colour": "red"}}, "unknown media field"),
        ({"schema": 7}, "schema must be"),
    ],
)
def test_invalid_schema2_documents_name_the_field(change, message):
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict({**SCHEMA1, **change})
