"""The moderation categories (OpenAI-moderation style names) and what a user is told for each."""

CATEGORIES: tuple[str, ...] = (
    "sexual",
    "sexual/minors",
    "hate",
    "harassment",
    "violence",
    "violence/graphic",
    "self-harm",
    "illegal/weapons",
    "deception/real-person",
    # v2 (policy schema 2): categories of text-to-video misuse the first taxonomy had no label for.
    "public-figure",
    "political",
    "copyright",
    "misinformation",
    "disturbing",
    "illegal/everyday",
)

# What a category does when it is flagged, unless the policy's ``category_actions`` says otherwise:
# "block" (a review threshold holds for review, a block threshold blocks), "review" (any hit is held for a
# moderator, never blocked outright) or "allow" (recorded, never acted on). Policies without
# ``category_actions`` (schema 1) behave as before: every category they have thresholds or terms for blocks.
DEFAULT_ACTIONS: dict[str, str] = {
    "sexual": "block",
    "sexual/minors": "block",
    "hate": "block",
    "harassment": "block",
    "violence": "block",
    "violence/graphic": "block",
    "self-harm": "block",
    "illegal/weapons": "block",
    "deception/real-person": "block",
    "public-figure": "review",
    "political": "review",
    "copyright": "review",
    "misinformation": "review",
    "disturbing": "review",
    "illegal/everyday": "review",
}

# What a user is told: the category in plain words, never the rule or term that fired.
USER_LABELS: dict[str, str] = {
    "sexual": "sexual content",
    "sexual/minors": "sexual content involving minors",
    "hate": "hateful content",
    "harassment": "harassment",
    "violence": "violent content",
    "violence/graphic": "graphic violence",
    "self-harm": "self-harm",
    "illegal/weapons": "illegal activity or weapons",
    "deception/real-person": "deceptive or harmful depiction of a real person",
    "public-figure": "a depiction of a real, identifiable person",
    "political": "politically sensitive content",
    "copyright": "copyrighted characters or trademarks",
    "misinformation": "misleading or false content presented as real",
    "disturbing": "disturbing content",
    "illegal/everyday": "illegal activity",
}
