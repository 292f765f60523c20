"""Screening a prompt with `veriframe.safety` before any GPU time (the first step of Submit)."""

from __future__ import annotations

import threading
from typing import Any

from veriframe.service.errors import InvalidArgument


class Screener:
    """The moderation classifier (loaded once, lazily) and `veriframe.safety.screen` over it."""

    def __init__(self, classifier_path: Any = None, classifier: Any = None) -> None:
        self._path = classifier_path
        self._classifier = classifier
        self._lock = threading.Lock()

    def classifier(self) -> Any:
        with self._lock:
            if self._classifier is None:
                if self._path is not None:
                    from veriframe.safety.classifier import HFClassifier

                    self._classifier = HFClassifier(str(self._path))
                else:
                    from veriframe.safety.classifier import load_default_classifier

                    self._classifier = load_default_classifier()
            return self._classifier

    def screen(self, prompt: str, policy: Any) -> Any:
        """The safety Decision; its PromptError (binary, huge...) is the caller's mistake."""
        from veriframe.safety import PromptError, screen

        try:
            return screen(prompt, policy, self.classifier())
        except PromptError as error:
            raise InvalidArgument("params.prompt", str(error)) from error
