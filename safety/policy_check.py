"""Fail-closed checks of a policy document before it may go live (the admin tool's UpdatePolicy).

`Policy.from_dict` checks that a document is well formed; these rules check that it still moderates:
`veriframe.safety.screen` skips a category that has no threshold, so a document that leaves any
category without a review and a block threshold (`{}` included) would switch moderation off for it.
Such documents, and any that would weaken the always-on sexual/minors block, are refused.
"""

from __future__ import annotations

import re
from typing import Any

from veriframe.safety.categories import CATEGORIES
from veriframe.safety.policy import BUILTIN_MINOR_TERMS, BUILTIN_SEXUAL_TERMS, Policy, fold_term

ALWAYS_BLOCK_CATEGORY = "sexual/minors"


class PolicyDocumentError(ValueError):
    """A document that cannot go live; ``field`` names the offending path (e.g. thresholds.hate.block)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate_document(document: Any, version: int) -> dict[str, Any]:
    """The document as `Policy.to_dict` writes it, with `version` set; PolicyDocumentError if bad."""
    if not isinstance(document, dict):
        raise PolicyDocumentError("document_json", "a policy document is a JSON object")
    try:
        policy = Policy.from_dict({**document, "version": version})
        result = policy.to_dict()
    except (KeyError, TypeError, ValueError) as error:
        raise PolicyDocumentError("document_json", f"not a valid policy: {error}") from None
    require_full_coverage(policy)
    result["version"] = version
    return result


def require_full_coverage(policy: Policy) -> None:
    """PolicyDocumentError unless every category can still review and block."""
    for category in CATEGORIES:
        t = policy.thresholds.get(category)
        values = {"review": t.review if t else None, "block": t.block if t else None}
        for action, value in values.items():
            field_name = f"thresholds.{category}.{action}"
            if value is None:
                raise PolicyDocumentError(field_name, "every category needs a review and a block threshold "
                                          "(a category without one is not moderated at all)")
            if not 0.0 <= value <= 1.0:
                raise PolicyDocumentError(field_name, f"must be in [0, 1], got {value}")
            if category == ALWAYS_BLOCK_CATEGORY and value >= 1.0:
                raise PolicyDocumentError(field_name, "a threshold of 1 would switch off the always-on "
                                          "sexual/minors block: use a value below 1")
        if values["block"] < values["review"]:
            raise PolicyDocumentError(f"thresholds.{category}.block",
                                      f"must not be below the review threshold ({values['review']})")
    _require_visible_builtin_terms(policy)


def _require_visible_builtin_terms(policy: Policy) -> None:
    # An allow phrase is cut out of the prompt before the rules run: one that holds a built-in minor
    # term, or is a built-in sexual term, would hide it from the always-on sexual/minors rule.
    minors = [fold_term(term) for term in BUILTIN_MINOR_TERMS]
    sexual = {fold_term(term) for term in BUILTIN_SEXUAL_TERMS}
    for index, phrase in enumerate(policy.allow_phrases):
        folded = fold_term(phrase)
        masked = next((m for m in minors if re.search(rf"(?<!\w){re.escape(m)}(?!\w)", folded)), None)
        if masked is not None or folded in sexual:
            raise PolicyDocumentError(f"allow_phrases[{index}]", f"{phrase!r} would hide the built-in term "
                                      f"{masked or folded!r} from the always-on sexual/minors block")
