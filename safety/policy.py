"""The moderation policy as plain, versioned data (stored as JSON in the database by the service).

A policy holds per-category classifier thresholds, block/review terms and regex patterns per
category, phrases that are never a hit ("naked eye"), protected real persons and what a plain
mention of one does, and the context words that turn a mention into a block. Sexual content with
minors is blocked whatever the policy says: the built-in minor and sexual term lists below are
always applied (a policy can add to them, never remove), and that category can only ever block.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from veriframe.safety.categories import CATEGORIES
from veriframe.safety.normalize import normalize

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.json")
PersonAction = Literal["allow", "review", "block"]
CONTEXT_KINDS = ("sexual", "violent", "humiliating", "deceptive")

# Always applied, not configurable off (see module docstring).
BUILTIN_MINOR_TERMS: tuple[str, ...] = (
    "child",
    "children",
    "kid",
    "kids",
    "minor",
    "minors",
    "underage",
    "under age",
    "teen",
    "teens",
    "teenager",
    "teenage",
    "preteen",
    "pre-teen",
    "tween",
    "toddler",
    "baby",
    "infant",
    "schoolgirl",
    "schoolboy",
    "school girl",
    "school boy",
    "little girl",
    "little boy",
    "young girl",
    "young boy",
    "girl scout",
    "boy scout",
    "loli",
    "lolita",
    "shota",
    "pedo",
    "pedophile",
    "paedophile",
    "cp",
    "jailbait",
    "daughter",
    "son",
    "niece",
    "nephew",
    "juvenile",
    "adolescent",
    "prepubescent",
)
BUILTIN_MINOR_PATTERNS: tuple[str, ...] = (
    # "13 year old", "12yo", "9-year-old", "aged 15": any age under 18.
    r"\b(?:[1-9]|1[0-7])\s*(?:-|\s)?\s*(?:yo|y/o|yrs?|years?)(?:\s*-?\s*old)?\b",
    r"\baged? (?:[1-9]|1[0-7])\b",
)
BUILTIN_SEXUAL_TERMS: tuple[str, ...] = (
    "nude",
    "nudes",
    "naked",
    "nudity",
    "nsfw",
    "porn",
    "porno",
    "pornographic",
    "pornography",
    "sex",
    "sexual",
    "sexy",
    "sexually",
    "erotic",
    "erotica",
    "hentai",
    "xxx",
    "genitals",
    "genitalia",
    "penis",
    "vagina",
    "breasts",
    "boobs",
    "tits",
    "nipples",
    "topless",
    "bottomless",
    "undressed",
    "undressing",
    "masturbate",
    "masturbating",
    "masturbation",
    "orgasm",
    "intercourse",
    "blowjob",
    "lingerie",
    "seductive",
    "molest",
    "molested",
    "molesting",
    "fondling",
    "grooming",
    "lewd",
    "fetish",
)


class PolicyError(ValueError):
    """A policy document is invalid (the message names the field)."""


def document_digest(document: dict[str, Any]) -> str:
    """THE policy digest: SHA-256 of the canonical JSON (sorted keys, no spaces, ASCII escapes).

    The ledger's `admin.policy_changed` records it and screening decisions cite it; one function, so a
    policy with non-ASCII terms has one digest everywhere.
    """
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Thresholds:
    """Classifier score thresholds for one category; ``None`` disables that action."""

    review: float | None = None
    block: float | None = None


@dataclass(frozen=True)
class ProtectedPerson:
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A versioned moderation policy; ``to_dict()``/``from_dict()`` round-trip through JSON."""

    version: int
    name: str = "default"
    thresholds: dict[str, Thresholds] = field(default_factory=dict)
    block_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    review_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    block_patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    allow_phrases: tuple[str, ...] = ()
    protected_persons: tuple[ProtectedPerson, ...] = ()
    person_mention_action: PersonAction = "review"
    person_context_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    minor_terms: tuple[str, ...] = ()
    max_prompt_chars: int = 8000
    review_ttl_seconds: int = 86400
    comment: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    # --- plain data -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the form stored in the database and in ``default_policy.json``)."""
        return {
            "version": self.version,
            "name": self.name,
            "comment": self.comment,
            "thresholds": {c: {"review": t.review, "block": t.block} for c, t in self.thresholds.items()},
            "block_terms": {c: list(v) for c, v in self.block_terms.items()},
            "review_terms": {c: list(v) for c, v in self.review_terms.items()},
            "block_patterns": {c: list(v) for c, v in self.block_patterns.items()},
            "allow_phrases": list(self.allow_phrases),
            "protected_persons": [
                {"name": p.name, "aliases": list(p.aliases)} for p in self.protected_persons
            ],
            "person_mention_action": self.person_mention_action,
            "person_context_terms": {k: list(v) for k, v in self.person_context_terms.items()},
            "minor_terms": list(self.minor_terms),
            "max_prompt_chars": self.max_prompt_chars,
            "review_ttl_seconds": self.review_ttl_seconds,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Build and validate a policy from ``to_dict()`` output; unknown keys are an error."""
        if not isinstance(data, dict):
            raise PolicyError("a policy document must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise PolicyError(f"unknown policy field(s): {', '.join(sorted(unknown))}")
        if "version" not in data:
            raise PolicyError("policy field 'version' is required")
        try:
            return cls(
                version=data["version"],
                name=data.get("name", "default"),
                comment=data.get("comment", ""),
                thresholds={c: Thresholds(**t) for c, t in data.get("thresholds", {}).items()},
                block_terms=_tuples(data.get("block_terms", {})),
                review_terms=_tuples(data.get("review_terms", {})),
                block_patterns=_tuples(data.get("block_patterns", {})),
                allow_phrases=tuple(data.get("allow_phrases", ())),
                protected_persons=tuple(
                    ProtectedPerson(p["name"], tuple(p.get("aliases", ())))
                    for p in data.get("protected_persons", ())
                ),
                person_mention_action=data.get("person_mention_action", "review"),
                person_context_terms=_tuples(data.get("person_context_terms", {})),
                minor_terms=tuple(data.get("minor_terms", ())),
                max_prompt_chars=data.get("max_prompt_chars", 8000),
                review_ttl_seconds=data.get("review_ttl_seconds", 86400),
            )
        except (TypeError, KeyError, AttributeError) as exc:
            raise PolicyError(f"malformed policy document: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Policy:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise PolicyError(f"policy is not valid JSON: {exc}") from exc

    def digest(self) -> str:
        """SHA-256 of the canonical JSON: the digest the ledger records for this policy."""
        return document_digest(self.to_dict())

    def new_version(self, comment: str = "", **changes: Any) -> Policy:
        """A copy with ``changes`` applied and ``version`` + 1 (policies are never edited in place)."""
        if "version" in changes:
            raise PolicyError("new_version() sets the version itself")
        return dataclasses.replace(self, version=self.version + 1, comment=comment, **changes)


def _tuples(d: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    if not isinstance(d, dict):
        raise PolicyError(f"expected an object of lists, got {type(d).__name__}")
    return {k: tuple(v) for k, v in d.items()}


def _validate(p: Policy) -> None:
    if not isinstance(p.version, int) or isinstance(p.version, bool) or p.version < 1:
        raise PolicyError(f"version must be an integer >= 1, got {p.version!r}")
    for fname in ("thresholds", "block_terms", "review_terms", "block_patterns"):
        for cat in getattr(p, fname):
            if cat not in CATEGORIES:
                raise PolicyError(f"{fname}: unknown category {cat!r}; known: {', '.join(CATEGORIES)}")
    for cat, t in p.thresholds.items():
        for name in ("review", "block"):
            v = getattr(t, name)
            if v is not None and not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise PolicyError(f"thresholds.{cat}.{name} must be a number in [0, 1] or null, got {v!r}")
        if t.review is not None and t.block is not None and t.review > t.block:
            raise PolicyError(f"thresholds.{cat}: review ({t.review}) must not exceed block ({t.block})")
    for cat, patterns in p.block_patterns.items():
        for pat in patterns:
            try:
                re.compile(pat)
            except re.error as exc:
                raise PolicyError(f"block_patterns.{cat}: invalid regex {pat!r}: {exc}") from exc
    if p.person_mention_action not in ("allow", "review", "block"):
        raise PolicyError(
            f"person_mention_action must be allow, review or block, got {p.person_mention_action!r}"
        )
    for kind in p.person_context_terms:
        if kind not in CONTEXT_KINDS:
            raise PolicyError(
                f"person_context_terms: unknown kind {kind!r}; known: {', '.join(CONTEXT_KINDS)}"
            )
    for person in p.protected_persons:
        if not person.name.strip():
            raise PolicyError("protected_persons: a person needs a non-empty name")
    if not isinstance(p.max_prompt_chars, int) or p.max_prompt_chars < 1:
        raise PolicyError("max_prompt_chars must be a positive integer")
    if not isinstance(p.review_ttl_seconds, int) or p.review_ttl_seconds < 1:
        raise PolicyError("review_ttl_seconds must be a positive integer")


@functools.cache
def default_policy() -> Policy:
    """The policy shipped with the package (``safety/default_policy.json``)."""
    return load_policy(DEFAULT_POLICY_PATH)


def load_policy(path: str | Path) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return Policy.from_json(text)


def fold_term(term: str) -> str:
    """A policy term in the form rules match against (same normalisation as prompts)."""
    return normalize(term).folded
