"""Screening a prompt with `veriframe.safety` before any GPU time (the first step of Submit)."""

from __future__ import annotations

import threading
from typing import Any

from veriframe.service.errors import InvalidArgument


class Screener:
    """The moderation classifier (loaded once, lazily) and `veriframe.safety.screen` over it.

    Concurrent Submits are screened through one micro-batcher (`veriframe.safety.batching`): prompts that
    arrive within a few milliseconds share one classifier call instead of queueing on a lock.
    """

    def __init__(
        self,
        classifier_path: Any = None,
        classifier: Any = None,
        *,
        max_batch: int = 32,
        window_s: float = 0.004,
        encoder: str | None = None,
    ) -> None:
        self._path = classifier_path
        self._encoder = encoder  # the MiniLM encoder mode of the default classifier (None: its default)
        self._classifier = classifier
        self._lock = threading.Lock()
        self._batcher: Any = None
        # max_batch 1: no batcher, one prompt at a time under a lock (the baseline bench/ compares with).
        self._max_batch, self._window_s = max_batch, window_s
        self._one_at_a_time = threading.Lock()

    def classifier(self) -> Any:
        with self._lock:
            if self._classifier is None:
                if self._path is not None:
                    from veriframe.safety.classifier import HFClassifier

                    self._classifier = HFClassifier(str(self._path))
                else:
                    from veriframe.safety.ensemble import load_default_classifier

                    self._classifier = load_default_classifier(self._encoder)
            return self._classifier

    def batcher(self) -> Any:
        clf = self.classifier()
        with self._lock:
            if self._batcher is None:
                from veriframe.safety.batching import BatchedScreener

                self._batcher = BatchedScreener(clf, max_batch=self._max_batch, window_s=self._window_s)
            return self._batcher

    def screen(self, prompt: str, policy: Any) -> Any:
        """The safety Decision; its PromptError (binary, huge...) is the caller's mistake."""
        from veriframe.safety import PromptError

        try:
            if self._max_batch > 1:
                return self.batcher().screen(prompt, policy)
            from veriframe.safety import screen

            clf = self.classifier()
            with self._one_at_a_time:
                return screen(prompt, policy, clf)
        except PromptError as error:
            raise InvalidArgument("params.prompt", str(error)) from error


def screen_media(kind: str, data: bytes, policy: Any) -> Any:
    """The safety MediaDecision for an i2v/v2v input. Fail closed: a check that cannot run is Unavailable."""
    from veriframe.safety.media import MediaError
    from veriframe.safety.media.screen import MediaCheckError, screen_input
    from veriframe.service.errors import Unavailable

    try:
        return screen_input(kind, data, policy)  # type: ignore[arg-type]
    except MediaError as error:
        raise InvalidArgument(f"params.{kind}", str(error)) from error
    except MediaCheckError as error:
        raise Unavailable(f"the input cannot be checked, so it is refused: {error}") from error


def combine(decision: Any, media: Any) -> Any:
    """The prompt's Decision made as strict as the media decision (categories of both, deciding first)."""
    import dataclasses

    severity = {"allow": 0, "review": 1, "block": 2}
    if media is None or severity[media.decision] <= severity[decision.decision]:
        if media is not None and media.decision != "allow":
            cats = list(dict.fromkeys([*decision.categories, *media.categories]))
            return dataclasses.replace(decision, categories=cats)
        return decision
    return dataclasses.replace(
        decision,
        decision=media.decision,
        categories=list(dict.fromkeys([*media.categories, *decision.categories])),
        rule=media.rule,
        user_message=media.user_message,
    )
