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
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from veriframe.safety.categories import CATEGORIES, DEFAULT_ACTIONS
from veriframe.safety.normalize import normalize

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.json")
PersonAction = Literal["allow", "review", "block"]
CategoryAction = Literal["allow", "review", "block"]
# Schema 1: the first documents (no ``schema`` key). Schema 2 adds ``category_actions``, ``any_unsafe``,
# ``media``, ``person_names_by_form`` and ``unread_script_action``. A field at its default is left out of
# ``to_dict()``, so a schema-1 document keeps its digest.
SCHEMA = 2
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
class ProtectedFace:
    """A protected person's reference face: a 128-d dlib embedding, never the image it came from."""

    name: str
    embedding: tuple[float, ...]
    added_by: str = ""
    added_at: str = ""


@dataclass(frozen=True)
class MediaPolicy:
    """What input images/videos (image-to-video, video-to-video) and generated frames may show."""

    face_action: CategoryAction = "review"  # a realistic human face in an input
    consent_attested: bool = False  # the tenant attests consent of the people shown: faces pass
    nudity_review: float = 0.5  # open_nsfw score that holds for review
    nudity_block: float = 0.85  # ... and that blocks
    protected_faces: tuple[ProtectedFace, ...] = ()
    face_match_distance: float = 0.55  # dlib embedding distance at or under which a face matches
    output_action: Literal["review", "fail"] = "review"  # a flagged generated frame holds or fails the job
    sample_fps: float = 2.0  # video frames sampled per second (plus the first and the last)
    max_frames: int = 48  # at most this many frames are read from one video

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["protected_faces"] = [
            {**dataclasses.asdict(f), "embedding": [round(x, 6) for x in f.embedding]}
            for f in self.protected_faces
        ]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaPolicy:
        if not isinstance(data, dict):
            raise PolicyError("media must be an object")
        known = {f.name for f in dataclasses.fields(cls)}
        if unknown := set(data) - known:
            raise PolicyError(f"unknown media field(s): {', '.join(sorted(unknown))}")
        faces = tuple(
            ProtectedFace(
                f["name"],
                tuple(float(x) for x in f["embedding"]),
                f.get("added_by", ""),
                f.get("added_at", ""),
            )
            for f in data.get("protected_faces", ())
        )
        return cls(**{**data, "protected_faces": faces})


def _validate_media(m: MediaPolicy) -> None:
    if m.face_action not in ("allow", "review", "block"):
        raise PolicyError(f"media.face_action must be allow, review or block, got {m.face_action!r}")
    if m.output_action not in ("review", "fail"):
        raise PolicyError(f"media.output_action must be review or fail, got {m.output_action!r}")
    if not isinstance(m.consent_attested, bool):
        raise PolicyError("media.consent_attested must be true or false")
    for name in ("nudity_review", "nudity_block", "face_match_distance"):
        v = getattr(m, name)
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0.0 <= v <= 1.0:
            raise PolicyError(f"media.{name} must be a number in [0, 1], got {v!r}")
    if m.nudity_review > m.nudity_block:
        raise PolicyError("media.nudity_review must not exceed media.nudity_block")
    if not isinstance(m.sample_fps, int | float) or not 0 < m.sample_fps <= 30:
        raise PolicyError(f"media.sample_fps must be in (0, 30], got {m.sample_fps!r}")
    if not isinstance(m.max_frames, int) or not 2 <= m.max_frames <= 1000:
        raise PolicyError(f"media.max_frames must be an integer in [2, 1000], got {m.max_frames!r}")
    for f in m.protected_faces:
        if not f.name.strip():
            raise PolicyError("media.protected_faces: a face needs a non-empty name")
        if len(f.embedding) != 128 or not all(math.isfinite(x) for x in f.embedding):
            raise PolicyError(f"media.protected_faces[{f.name!r}]: embedding must be 128 finite numbers")


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
    schema: int = 1
    category_actions: dict[str, CategoryAction] | None = None
    any_unsafe: Thresholds | None = None  # thresholds on the classifier's "any unsafe" score
    media: MediaPolicy | None = None
    # Schema 2: also hold unlisted "First Last" names found by their form alone (census first name +
    # surname). Off by default: the form alone also matches breeds, brands and places.
    person_names_by_form: bool = False
    # Schema 2: what a prompt written mostly in scripts the classifier cannot read gets (safety.scripts):
    # None (unset) lets it through to the other layers as before.
    unread_script_action: PersonAction | None = None

    def __post_init__(self) -> None:
        _validate(self)

    # --- plain data -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the form stored in the database and in ``default_policy.json``)."""
        d: dict[str, Any] = {
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
        # Schema-2 fields only when set: an unchanged schema-1 document keeps its digest.
        if self.schema != 1:
            d["schema"] = self.schema
        if self.category_actions is not None:
            d["category_actions"] = dict(self.category_actions)
        if self.any_unsafe is not None:
            d["any_unsafe"] = {"review": self.any_unsafe.review, "block": self.any_unsafe.block}
        if self.media is not None:
            d["media"] = self.media.to_dict()
        if self.person_names_by_form:
            d["person_names_by_form"] = True
        if self.unread_script_action is not None:
            d["unread_script_action"] = self.unread_script_action
        return d

    def action_for(self, category: str) -> CategoryAction:
        """What a hit in ``category`` may do at most (``category_actions``, else the built-in default).

        A schema-1 policy keeps its old behaviour: every category may block.
        """
        if self.category_actions is None:
            return "block" if self.schema == 1 else DEFAULT_ACTIONS.get(category, "block")
        return self.category_actions.get(category, DEFAULT_ACTIONS.get(category, "block"))

    @property
    def media_policy(self) -> MediaPolicy:
        """The media rules in force (the defaults when the document has none)."""
        return self.media if self.media is not None else MediaPolicy()

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
                schema=data.get("schema", 1),
                category_actions=data.get("category_actions"),
                any_unsafe=Thresholds(**data["any_unsafe"]) if data.get("any_unsafe") is not None else None,
                media=MediaPolicy.from_dict(data["media"]) if data.get("media") is not None else None,
                person_names_by_form=data.get("person_names_by_form", False),
                unread_script_action=data.get("unread_script_action"),
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
    if not isinstance(p.person_names_by_form, bool):
        raise PolicyError(f"person_names_by_form must be true or false, got {p.person_names_by_form!r}")
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
    if p.unread_script_action not in (None, "allow", "review", "block"):
        raise PolicyError(
            f"unread_script_action must be allow, review or block, got {p.unread_script_action!r}"
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
    _validate_schema2(p)


def _validate_schema2(p: Policy) -> None:
    if p.schema not in (1, SCHEMA):
        raise PolicyError(f"schema must be 1 or {SCHEMA}, got {p.schema!r}")
    uses_v2 = (
        p.category_actions is not None or p.any_unsafe is not None or p.media is not None
        or p.person_names_by_form or p.unread_script_action is not None
    )
    if uses_v2 and p.schema < 2:
        raise PolicyError(
            "category_actions, any_unsafe, media, person_names_by_form and unread_script_action "
            'need "schema": 2'
        )
    if p.category_actions is not None:
        if not isinstance(p.category_actions, dict):
            raise PolicyError("category_actions must be an object {category: allow|review|block}")
        for cat, action in p.category_actions.items():
            if cat not in CATEGORIES:
                raise PolicyError(
                    f"category_actions: unknown category {cat!r}; known: {', '.join(CATEGORIES)}"
                )
            if action not in ("allow", "review", "block"):
                raise PolicyError(f"category_actions.{cat} must be allow, review or block, got {action!r}")
        if p.category_actions.get("sexual/minors", "block") != "block":
            raise PolicyError("category_actions.sexual/minors must be block: it cannot be softened")
    if p.any_unsafe is not None:
        for name in ("review", "block"):
            v = getattr(p.any_unsafe, name)
            if v is not None and not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise PolicyError(f"any_unsafe.{name} must be a number in [0, 1] or null, got {v!r}")
    if p.media is not None:
        _validate_media(p.media)


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


def plural_suffixes(word: str) -> tuple[str, ...]:
    """The plural endings a listed word is also matched with: "es" only after a sibilant, so "spic" does
    not match "spices" nor "coup" French "coupes"."""
    return ("s", "es") if word.endswith(("s", "x", "z", "ch", "sh")) else ("s",)
