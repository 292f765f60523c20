"""The combined screening decision: validate -> normalise -> classify (long prompts per chunk) -> rules.

``screen()`` decides one prompt; ``screen_many()`` decides a batch with a single classifier call, which is
what the batch CLI and the benchmark use. A long prompt is scored per sentence chunk (the max per
category is kept), so one unsafe sentence hidden in a long benign prompt is not averaged away; a
short prompt is one chunk, scored whole (see ``veriframe.safety.chunking.pieces_to_score``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Literal

from veriframe.safety.categories import CATEGORIES, USER_LABELS
from veriframe.safety.chunking import pieces_to_score
from veriframe.safety.classifier import Classifier
from veriframe.safety.normalize import NormalizedPrompt, normalize
from veriframe.safety.policy import Policy
from veriframe.safety.rules import RuleHit, apply_rules

DecisionKind = Literal["allow", "review", "block"]
_SEVERITY = {"allow": 0, "review": 1, "block": 2}
# Categories whose hits can never be softened to "review": the classifier alone blocks them.
_ALWAYS_BLOCK = {"sexual/minors"}


class PromptError(ValueError):
    """The prompt cannot be screened (empty, too long, binary, invalid UTF-8); the message says which."""


@dataclass(frozen=True)
class Decision:
    decision: DecisionKind
    categories: list[str]
    scores: dict[str, float]
    rule: str | None  # internal: the rule or classifier threshold that decided; never shown to the user
    policy_version: int
    user_message: str
    classifier: str = ""
    hits: list[str] = field(default_factory=list)  # internal: every rule/threshold that fired

    def to_dict(self) -> dict:
        return asdict(self)


def validate_prompt(prompt: str | bytes, *, max_chars: int) -> str:
    """The prompt as ``str``, or :class:`PromptError` saying why it cannot be screened."""
    if isinstance(prompt, bytes | bytearray):
        try:
            prompt = bytes(prompt).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PromptError(f"prompt is not valid UTF-8 (bad byte at offset {exc.start})") from None
    if not isinstance(prompt, str):
        raise PromptError(f"prompt must be text, got {type(prompt).__name__}")
    if len(prompt) > max_chars:
        raise PromptError(f"prompt is too long: {len(prompt)} characters, the limit is {max_chars}")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in prompt):
        raise PromptError("prompt is not valid UTF-8 (it holds unpaired surrogate code points)")
    if "\x00" in prompt:
        raise PromptError("prompt looks like binary data (it holds NUL characters)")
    # Control, unassigned and private-use characters besides whitespace: a few can be noise, many mean
    # the "text" is really binary data decoded as if it were text.
    odd = sum(1 for ch in prompt if ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cn", "Co"))
    if odd > max(2, len(prompt) // 20):
        raise PromptError(f"prompt looks like binary data ({odd} control or unassigned characters)")
    if not prompt.strip():
        raise PromptError("prompt is empty")
    return prompt


def _prepare(prompt: str | bytes, policy: Policy) -> NormalizedPrompt:
    norm = normalize(validate_prompt(prompt, max_chars=policy.max_prompt_chars))
    if not norm.text:
        raise PromptError("prompt is empty once invisible and control characters are removed")
    return norm


def screen(
    prompt: str | bytes, policy: Policy, classifier: Classifier | None, *, chunks: bool = True
) -> Decision:
    """Decide one prompt. ``classifier=None`` runs the rules alone (scores empty)."""
    return screen_many([prompt], policy, classifier, chunks=chunks)[0]


def screen_many(
    prompts: list[str | bytes], policy: Policy, classifier: Classifier | None, *, chunks: bool = True
) -> list[Decision]:
    """Decide a batch of prompts with one classifier call. Raises :class:`PromptError` on the first
    unscreenable prompt (callers that want per-line errors validate with :func:`screen` per prompt)."""
    norms = [_prepare(p, policy) for p in prompts]
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    for norm in norms:
        pieces = pieces_to_score(norm.text) if chunks else [norm.text]
        spans.append((len(texts), len(texts) + len(pieces)))
        texts.extend(pieces)
    raw = classifier.score(texts) if classifier is not None and texts else [{} for _ in texts]
    out = []
    for norm, (a, b) in zip(norms, spans, strict=True):
        scores: dict[str, float] = {}
        for piece in raw[a:b]:
            for cat, s in piece.items():
                scores[cat] = max(scores.get(cat, 0.0), s)
        out.append(_decide(norm, policy, scores, classifier.name if classifier is not None else ""))
    return out


def _decide(
    norm: NormalizedPrompt, policy: Policy, scores: dict[str, float], classifier_name: str
) -> Decision:
    hits: list[RuleHit] = []
    for cat in CATEGORIES:
        t = policy.thresholds.get(cat)
        s = scores.get(cat)
        if t is None or s is None:
            continue
        if t.block is not None and s >= t.block:
            hits.append(RuleHit(cat, "block", f"classifier.{cat}>={t.block}"))
        elif t.review is not None and s >= t.review:
            action = "block" if cat in _ALWAYS_BLOCK else "review"
            hits.append(RuleHit(cat, action, f"classifier.{cat}>={t.review}"))
    # Rules after the classifier: the person and minors rules use its scores as context.
    hits.extend(apply_rules(norm, policy, scores))

    decision: DecisionKind = "allow"
    for h in hits:
        if _SEVERITY[h.action] > _SEVERITY[decision]:
            decision = h.action
    # The deciding hits, strongest first (rule hits, which have no score, count as certain).
    deciding = sorted((h for h in hits if h.action == decision), key=lambda h: -scores.get(h.category, 1.0))
    categories = []
    for h in deciding + hits:
        if h.category not in categories:
            categories.append(h.category)
    rule = deciding[0].rule if deciding else None
    return Decision(
        decision=decision,
        categories=categories if decision != "allow" else [],
        scores={c: round(scores[c], 4) for c in CATEGORIES if c in scores},
        rule=rule,
        policy_version=policy.version,
        user_message=user_message(decision, categories),
        classifier=classifier_name,
        hits=[h.rule for h in hits],
    )


def user_message(decision: DecisionKind, categories: list[str]) -> str:
    """What the prompt's author is told: the category in plain words, never the rule or the term."""
    if decision == "allow":
        return "Prompt accepted."
    what = ", ".join(USER_LABELS[c] for c in categories[:2]) or "content that breaks the usage policy"
    if decision == "block":
        return (
            f"This prompt was blocked: it appears to involve {what}, which the usage policy does not allow."
        )
    return f"This prompt is held for moderator review: it may involve {what}."
