"""Prompt screening: normalisation, policy rules, the classifier and the combined decision.

``veriframe.safety.screen(prompt, policy, classifier) -> Decision`` is the entry point; the package never
imports
the service or gRPC, so the service, the admin tool and the batch CLI share this code.
Note: ``veriframe.safety.screen`` is the function; the module is ``veriframe.safety.screen`` in
``sys.modules`` (import names
from it with ``from safety.screen import ...``).
"""

from veriframe.safety.categories import CATEGORIES
from veriframe.safety.classifier import Classifier, HFClassifier
from veriframe.safety.ensemble import load_default_classifier
from veriframe.safety.policy import Policy, PolicyError, default_policy
from veriframe.safety.screen import Decision, PromptError, screen, screen_many

__all__ = [
    "CATEGORIES",
    "Classifier",
    "Decision",
    "HFClassifier",
    "Policy",
    "PolicyError",
    "PromptError",
    "default_policy",
    "load_default_classifier",
    "screen",
    "screen_many",
]
