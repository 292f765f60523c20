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
)

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
}
