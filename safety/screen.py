"""The combined screening decision: validate -> normalise -> classify -> rules -> policy actions.

``screen()`` decides one prompt; ``screen_many()`` decides a batch with a single classifier call, which is
what the batch CLI, the micro-batcher and the benchmark use.

With the v2 classifier (``veriframe.safety.ensemble``, anything with ``score_prompts``) a prompt is judged on
its whole-prompt scores (a long prompt: the mean of its chunk embeddings) against the policy's
thresholds, on its "any unsafe" score against ``policy.any_unsafe``, and on its largest chunk score
against a threshold that tightens with the number of chunks (``ensemble.chunk_threshold``). Other
classifiers (``HFClassifier``) score each chunk and the max per category is kept, as in v1.
Every hit is then capped by its category's action in the policy (``Policy.action_for``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Literal

from veriframe.safety.categories import CATEGORIES, USER_LABELS
from veriframe.safety.chunking import pieces_to_score
from veriframe.safety.classifier import Classifier
from veriframe.safety.detectors import detect_entities
from veriframe.safety.ensemble import ANY, PromptScores, chunk_threshold
from veriframe.safety.normalize import NormalizedPrompt, normalize
from veriframe.safety.policy import Policy
from veriframe.safety.rules import RuleHit, apply_rules
from veriframe.safety.scripts import UNREAD_SHARE, unread_share

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
    name = classifier.name if classifier is not None else ""
    if classifier is not None and hasattr(classifier, "score_prompts"):
        scored = classifier.score_prompts([n.text for n in norms], chunks=chunks)
        return [_decide(n, policy, s, name) for n, s in zip(norms, scored, strict=True)]
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
        out.append(_decide(norm, policy, PromptScores(scores), name))
    return out


def _threshold_hits(policy: Policy, scored: PromptScores) -> list[RuleHit]:
    """Classifier hits: whole-prompt scores, the chunk check, and the "any unsafe" score."""
    hits: list[RuleHit] = []
    for cat in CATEGORIES:
        t = policy.thresholds.get(cat)
        if t is None:
            continue
        for kind, value, n in (
            ("", scored.scores.get(cat), 1),
            ("chunk.", scored.chunk_scores.get(cat), scored.n_chunks),
        ):
            if value is None:
                continue
            block = chunk_threshold(t.block, n) if t.block is not None else None
            review = chunk_threshold(t.review, n) if t.review is not None else None
            if block is not None and value >= block:
                hits.append(RuleHit(cat, "block", f"classifier.{kind}{cat}>={block:.4f}"))
            elif review is not None and value >= review:
                action = "block" if cat in _ALWAYS_BLOCK else "review"
                hits.append(RuleHit(cat, action, f"classifier.{kind}{cat}>={review:.4f}"))
    t, s = policy.any_unsafe, scored.scores.get(ANY)
    if t is not None and s is not None and t.review is not None and s >= t.review and not hits:
        # Which category the "any" hit is filed under: the one closest to its own threshold.
        cat = _closest_category(policy, scored)
        action = "block" if t.block is not None and s >= t.block else "review"
        hits.append(RuleHit(cat, action, f"classifier.any>={t.block if action == 'block' else t.review}"))
    return hits


def _closest_category(policy: Policy, scored: PromptScores) -> str:
    """The category whose score is closest to its own review threshold: where a hit that names none
    (the "any" score, an unread script) is filed, for the moderator's queue."""

    def ratio(c: str) -> float:
        th = policy.thresholds.get(c)
        return scored.scores.get(c, 0.0) / (th.review if th and th.review else 1.0)

    return max((c for c in CATEGORIES if c in scored.scores), key=ratio, default="harassment")


def _unread_script_hit(norm: NormalizedPrompt, policy: Policy, scored: PromptScores) -> RuleHit | None:
    """A prompt mostly in scripts the classifier cannot read is not screened by it: the policy's
    ``unread_script_action`` holds it (review), refuses it (block) or lets it through (allow, or unset)."""
    action = policy.unread_script_action
    if action in (None, "allow"):
        return None  # before the letter count: a policy that lets them through pays nothing
    if unread_share(norm.original) < UNREAD_SHARE:
        return None
    return RuleHit(_closest_category(policy, scored), action, UNREAD_RULE)


#: The rule id names the threshold, as ``media.nudity>=0.5`` does, not the prompt's measured share: one
#: stable label for the ledger, the review queue and the metrics.
UNREAD_RULE = f"script.unread>={UNREAD_SHARE:.2f}"
UNREAD_MESSAGE = {
    "review": "This prompt is held for moderator review: it is written in a script the automatic screen "
    "cannot read.",
    "block": "This prompt was blocked: it is written in a script the automatic screen cannot read, and "
    "this service accepts only prompts it can screen.",
}


def _cap(hit: RuleHit, policy: Policy) -> RuleHit | None:
    """The hit limited to its category's action in the policy; ``None`` when the category is allowed."""
    ceiling = "block" if hit.category in _ALWAYS_BLOCK else policy.action_for(hit.category)
    if ceiling == "allow":
        return None
    if _SEVERITY[hit.action] > _SEVERITY[ceiling]:
        return RuleHit(hit.category, ceiling, hit.rule)
    return hit


def _decide(norm: NormalizedPrompt, policy: Policy, scored: PromptScores, classifier_name: str) -> Decision:
    scores = {c: v for c, v in scored.scores.items() if c != ANY}
    hits = _threshold_hits(policy, scored)
    # Rules after the classifier: the person and minors rules use its scores as context.
    hits.extend(apply_rules(norm, policy, scores))
    if policy.schema >= 2:  # built-in entity detectors (schema-1 documents behave as before)
        hits.extend(detect_entities(norm, names_by_form=policy.person_names_by_form))
    hits = [c for h in hits if (c := _cap(h, policy)) is not None]
    # Not capped by its category's action: the category only files it; the policy says what it gets.
    if (unread := _unread_script_hit(norm, policy, scored)) is not None:
        hits.append(unread)

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
    message = user_message(decision, categories)
    if deciding and all(h.rule == UNREAD_RULE for h in deciding):
        # Only the script decided: say so, instead of naming a category the prompt was merely filed under.
        message = UNREAD_MESSAGE[decision]
    return Decision(
        decision=decision,
        categories=categories if decision != "allow" else [],
        scores={c: round(v, 4) for c in (*CATEGORIES, ANY) if (v := scored.scores.get(c)) is not None},
        rule=rule,
        policy_version=policy.version,
        user_message=message,
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
