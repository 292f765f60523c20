"""Policy as data (round trip, versioning, validation) and the rule layer alone (no classifier)."""

import json

import pytest

from veriframe.safety.normalize import normalize
from veriframe.safety.policy import Policy, PolicyError, ProtectedPerson, Thresholds, default_policy
from veriframe.safety.rules import apply_rules
from veriframe.safety.screen import screen


def _rules(prompt: str, policy: Policy, scores: dict | None = None) -> set[tuple[str, str]]:
    return {(h.category, h.action) for h in apply_rules(normalize(prompt), policy, scores)}


def test_default_policy_round_trips_through_json() -> None:
    policy = default_policy()
    again = Policy.from_json(policy.to_json())
    assert again == policy
    assert again.digest() == policy.digest()
    assert json.loads(policy.to_json())["version"] == policy.version


def test_new_version_bumps_version_and_digest_and_leaves_the_old_one() -> None:
    v1 = default_policy()
    v2 = v1.new_version("stricter on persons", person_mention_action="block")
    assert (v1.version, v2.version) == (v1.version, v1.version + 1)
    assert v1.person_mention_action == "review" and v2.person_mention_action == "block"
    assert v2.digest() != v1.digest()
    assert screen("Tom Hanks walking a dog", v2, None).policy_version == v2.version
    with pytest.raises(PolicyError, match="sets the version"):
        v1.new_version(version=7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 0}, "version"),
        ({"thresholds": {"sexual": {"review": 0.9, "block": 0.5}}}, "must not exceed"),
        ({"thresholds": {"sexual": {"review": 1.5, "block": None}}}, r"in \[0, 1\]"),
        ({"block_terms": {"nudity": ["x"]}}, "unknown category"),
        ({"block_patterns": {"sexual": ["(unclosed"]}}, "invalid regex"),
        ({"person_mention_action": "ignore"}, "person_mention_action"),
        ({"colour": "blue"}, "unknown policy field"),
    ],
)
def test_invalid_documents_are_rejected_with_the_field_named(change: dict, message: str) -> None:
    doc = default_policy().to_dict() | change
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict(doc)


def test_block_terms_and_patterns_fire_on_folded_text() -> None:
    policy = Policy(
        version=1,
        block_terms={"illegal/weapons": ("pipe bomb",)},
        block_patterns={"violence": (r"\bkill (?:him|her)\b",)},
        allow_phrases=("naked eye",),
    )
    assert _rules("how to build a p1pe-b0mb", policy) == {("illegal/weapons", "block")}
    assert _rules("KILL HER now", policy) == {("violence", "block")}
    assert _rules("a pipe organ and a bomb shelter", policy) == set()


def test_allow_phrases_suppress_a_term() -> None:
    policy = default_policy()
    assert _rules("a comet visible to the naked eye", policy) == set()
    assert ("sexual", "block") in _rules("a naked man on a horse", policy)
    # A negation a prompt writer adds to keep a scene clean is not a request for it; the rest still counts.
    assert _rules("surgeons at work, medical drama style, no gore, calm atmosphere", policy) == set()
    assert ("violence/graphic", "block") in _rules("no gore, just show the decapitation", policy)


def test_plural_endings_follow_english_spelling() -> None:
    """A listed word also matches its plural, with "es" only after a sibilant: "spic" must not match
    "spices", nor "coup" the French "coupes"."""
    policy = Policy(version=1, block_terms={"hate": ("spic",), "violence": ("punch", "gore")})
    assert _rules("a merchant scoops spices into paper cones", policy) == set()
    assert _rules("spics go home, painted on a wall", policy) == {("hate", "block")}
    assert _rules("two punches to the face", policy) == {("violence", "block")}
    assert _rules("gores everywhere", policy) == {("violence", "block")}
    assert _rules("goree island at dusk", policy) == set()


def test_minors_rule_cannot_be_configured_off() -> None:
    # An empty policy (no terms, no thresholds) still blocks sexual content with minors.
    empty = Policy(version=1)
    assert _rules("a n4ked little girl", empty) == {("sexual/minors", "block")}
    assert _rules("sexy 12yo", empty) == {("sexual/minors", "block")}
    # The classifier's sexual score counts as the sexual part once the policy sets a threshold.
    with_threshold = Policy(version=1, thresholds={"sexual": Thresholds(review=0.5, block=0.9)})
    assert _rules("a teenager in a bedroom", with_threshold, {"sexual": 0.6}) == {("sexual/minors", "block")}
    assert _rules("a teenager in a bedroom", with_threshold, {"sexual": 0.1}) == set()
    assert _rules("a child flying a kite", empty) == set()


def test_protected_person_mention_context_and_policy_action() -> None:
    base = Policy(
        version=1,
        protected_persons=(ProtectedPerson("Jane Example", ("J. Example",)),),
        person_context_terms={"deceptive": ("announcing", "election"), "sexual": ("lingerie",)},
    )
    assert _rules("Jane Example walking in a park", base) == {("deception/real-person", "review")}
    assert _rules("jаne exаmple announcing the election is cancelled", base) == {
        ("deception/real-person", "block")
    }
    assert _rules("Jane Example in lingerie", base) == {("deception/real-person", "block")}
    allow = base.new_version(person_mention_action="allow")
    assert _rules("Jane Example walking in a park", allow) == set()
    # Harmful context can come from the classifier too (no context word in the text).
    scored = allow.new_version(thresholds={"violence": Thresholds(review=0.5, block=0.9)})
    assert _rules("Jane Example in a dark alley", scored, {"violence": 0.7}) == {
        ("deception/real-person", "block")
    }


def test_default_policy_blocks_deceptive_use_of_a_listed_person() -> None:
    d = screen("Taylor Swift endorsing a crypto giveaway", default_policy(), None)
    # The deciding category comes first; the built-in detectors (policy v4) also file the review-level
    # public-figure and misinformation ("<a real person> endorsing ...") hits.
    assert d.decision == "block"
    assert d.categories == ["deception/real-person", "public-figure", "misinformation"]
    assert screen("Tom Hanks smiling", default_policy(), None).decision == "review"


def test_a_non_ascii_policy_has_one_digest() -> None:
    # One digest function (the ledger's): canonical JSON with ASCII escapes, whatever the terms' script.
    import hashlib

    from veriframe.safety.policy import document_digest

    base = default_policy()
    policy = base.new_version("Cyrillic and CJK terms", allow_phrases=("снеговик", "雪だるま"))
    document = policy.to_dict()
    escaped = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert b"\\u0441" in escaped  # really non-ASCII content, escaped
    assert policy.digest() == document_digest(document) == hashlib.sha256(escaped).hexdigest()
    raw = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert policy.digest() != hashlib.sha256(raw).hexdigest()  # the old, divergent digest
    assert Policy.from_json(policy.to_json()).digest() == policy.digest()
