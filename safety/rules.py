"""The policy's rule layer: terms, patterns, protected persons and the always-on minors rule.

Rules read the normalised ``folded`` form of a prompt (see ``veriframe.safety.normalize``); policy terms are
folded the same way, so "N.U.D.E", "nu-de" and "nuuude" all meet the term "nude". Patterns are
regular expressions over the folded form (lower case, separators inside words removed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from veriframe.safety.normalize import NormalizedPrompt
from veriframe.safety.policy import (
    BUILTIN_MINOR_PATTERNS,
    BUILTIN_MINOR_TERMS,
    BUILTIN_SEXUAL_TERMS,
    Policy,
    fold_term,
    plural_suffixes,
)

Action = Literal["review", "block"]
# Classifier categories whose score, next to a protected person's name, counts as harmful context.
_CONTEXT_CATEGORIES = {
    "sexual": "sexual",
    "violence": "violent",
    "violence/graphic": "violent",
    "harassment": "humiliating",
    "hate": "humiliating",
    "deception/real-person": "deceptive",
}


@dataclass(frozen=True)
class RuleHit:
    category: str
    action: Action
    rule: str  # internal identifier (audit/debugging); never shown to the prompt's author


class _TermSet:
    """Folded terms compiled into one word-bounded regex; also checks runs of re-joined letters.

    ``find`` returns the matching term's index in the policy's list, not the text: rule identifiers
    go to the audit log, which must not quote the prompt (the policy version resolves the index).
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self.index: dict[str, int] = {}
        raw: dict[str, int] = {}
        for i, term in enumerate(terms):
            folded = fold_term(term)
            if len(folded.replace(" ", "")) < 3 <= len(term.strip()):
                # Folding collapses letter runs ("xxx" -> "x", "kkk" -> "k"): matched against the
                # folded form such a term would hit every stray letter, so it is matched as written.
                raw.setdefault(term.strip().casefold(), i)
            elif folded:
                self.index.setdefault(folded, i)
                # "pipe bomb" also matches "pipebomb"/"pipe-bomb" (hyphens are removed by the folding).
                self.index.setdefault(folded.replace(" ", ""), i)
        ordered = sorted(self.index, key=len, reverse=True)
        self.squashed = [t for t in ordered if " " not in t and len(t) >= 4]
        self.regex = (
            re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(t) for t in ordered) + r")(e?s)?(?![a-z0-9])")
            if ordered
            else None
        )
        self.raw_index = raw
        self.raw_regex = (
            re.compile(r"(?<![^\W_])(" + "|".join(re.escape(t) for t in raw) + r")(?![^\W_])")
            if raw
            else None
        )

    def find(self, norm_text: str, joined: tuple[str, ...] = (), raw_text: str = "") -> int | None:
        """Index of a matching term. ``raw_text`` (the prompt case-folded, not leet/run-folded) is where
        terms that folding would destroy are looked for."""
        for m in self.regex.finditer(norm_text) if self.regex is not None else ():
            if m.group(2) in plural_suffixes(m.group(1)) or not m.group(2):
                return self.index[m.group(1)]
        if self.raw_regex is not None and (m := self.raw_regex.search(raw_text)):
            return self.raw_index[m.group(1)]
        for run in joined:
            for term in self.squashed:
                if term in run:
                    return self.index[term]
        return None


@dataclass(frozen=True)
class _Compiled:
    block_terms: dict[str, _TermSet]
    review_terms: dict[str, _TermSet]
    patterns: dict[str, list[re.Pattern[str]]]
    allow: re.Pattern[str] | None
    persons: list[_TermSet]
    context: dict[str, _TermSet]
    minors: _TermSet
    minor_patterns: list[re.Pattern[str]]
    sexual: _TermSet


def _compile(policy: Policy) -> _Compiled:
    # Policies hold dicts (unhashable): cache the compiled form by the policy's content digest.
    key = policy.digest()
    if (compiled := _CACHE.get(key)) is None:
        if len(_CACHE) > 16:
            _CACHE.clear()
        compiled = _CACHE[key] = _compile_uncached(policy)
    return compiled


_CACHE: dict[str, _Compiled] = {}


def _compile_uncached(policy: Policy) -> _Compiled:
    allow = sorted({fold_term(p) for p in policy.allow_phrases} - {""}, key=len, reverse=True)
    return _Compiled(
        block_terms={c: _TermSet(t) for c, t in policy.block_terms.items()},
        review_terms={c: _TermSet(t) for c, t in policy.review_terms.items()},
        patterns={c: [re.compile(p) for p in ps] for c, ps in policy.block_patterns.items()},
        allow=re.compile("|".join(re.escape(a) for a in allow)) if allow else None,
        persons=[_TermSet((p.name, *p.aliases)) for p in policy.protected_persons],
        context={k: _TermSet(v) for k, v in policy.person_context_terms.items()},
        minors=_TermSet((*BUILTIN_MINOR_TERMS, *policy.minor_terms)),
        minor_patterns=[re.compile(p) for p in BUILTIN_MINOR_PATTERNS],
        sexual=_TermSet((*BUILTIN_SEXUAL_TERMS, *policy.block_terms.get("sexual", ()))),
    )


def apply_rules(
    norm: NormalizedPrompt, policy: Policy, scores: Mapping[str, float] | None = None
) -> list[RuleHit]:
    """Every rule that fires on ``norm``; ``scores`` (classifier, per category) feed the context rules."""
    c = _compile(policy)
    text = c.allow.sub(" | ", norm.folded) if c.allow else norm.folded
    joined = norm.joined
    raw = norm.text.casefold()
    scores = scores or {}
    hits: list[RuleHit] = []

    for cat, terms in c.block_terms.items():
        if (term := terms.find(text, joined, raw)) is not None:
            hits.append(RuleHit(cat, "block", f"block_terms.{cat}[{term}]"))
    for cat, patterns in c.patterns.items():
        for i, pat in enumerate(patterns):
            if pat.search(text):
                hits.append(RuleHit(cat, "block", f"block_patterns.{cat}[{i}]"))
                break
    for cat, terms in c.review_terms.items():
        if (term := terms.find(text, joined, raw)) is not None:
            hits.append(RuleHit(cat, "review", f"review_terms.{cat}[{term}]"))

    def flagged(cat: str) -> bool:
        t = policy.thresholds.get(cat)
        return t is not None and t.review is not None and scores.get(cat, 0.0) >= t.review

    # Sexual content with minors: always on, whatever the policy's thresholds and terms.
    # Age patterns ("12yo") read the text before leet folding, which would turn "12yo" into "i2yo".
    minor = c.minors.find(text, joined) is not None or any(
        p.search(t) for p in c.minor_patterns for t in (norm.text.casefold(), text)
    )
    if minor:
        sexual = c.sexual.find(text, joined, raw) is not None
        if sexual or flagged("sexual") or flagged("sexual/minors"):
            hits.append(RuleHit("sexual/minors", "block", f"minors+{'terms' if sexual else 'classifier'}"))

    # Protected real persons: harmful context -> block; a plain mention -> the policy's action.
    for i, names in enumerate(c.persons):
        if names.find(text, joined) is None:
            continue
        kinds = [k for k, terms in c.context.items() if terms.find(text, joined) is not None]
        kinds += sorted({k for cat, k in _CONTEXT_CATEGORIES.items() if flagged(cat)} - set(kinds))
        if kinds:
            hits.append(
                RuleHit("deception/real-person", "block", f"protected_persons[{i}]+{'/'.join(kinds)}")
            )
        elif policy.person_mention_action != "allow":
            hits.append(
                RuleHit("deception/real-person", policy.person_mention_action, f"protected_persons[{i}]")
            )
    return hits
