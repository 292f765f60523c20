"""Submit-time checks against the configured model, without its weights.

An API-only server (`--workers 0`), or one whose workers are still loading, must still refuse what
the model cannot take (sizes, frame counts, the 226-token prompt limit) before a job is queued. The
engine's own `Engine.validate` does these checks; here it runs on the checkpoint's configs and
tokenizer (read by the engine's config-only inspection), so the API and the worker agree exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], Any]


class ModelUnavailable(RuntimeError):
    """The configured model cannot be inspected or loaded: this server cannot take generation jobs."""


class _ConfigEngine:
    """`Engine.validate` of one checkpoint, run on its configs and tokenizer only."""

    def __init__(self, model: str) -> None:
        from veriframe.service.engine import Engine, ModelLoadError
        from veriframe.service.engine.engine import MAX_SIDE

        try:
            engine = Engine.for_validation(model)
        except (ModelLoadError, OSError, ValueError, KeyError) as error:
            raise ModelUnavailable(str(error)) from error
        self.validate: Validator = engine.validate
        self.modes = tuple(engine.info.modes)
        self.max_frames = engine.family.max_frames
        self.max_pixels = MAX_SIDE * MAX_SIDE


class SubmitLimits:
    """What Submit checks against the model: `validate(GenerationParams)` for every mode this server
    offers, and the largest v2v/i2v input worth decoding (`max_input_frames`, `max_input_pixels`).

    Raises ModelUnavailable (with the reason) when the main model cannot be inspected; an i2v model
    that cannot be inspected fails i2v requests with the same error, when they are made.
    """

    def __init__(self, model: str, i2v_model: str | None) -> None:
        self._main = _ConfigEngine(model)
        self._i2v_model = i2v_model
        self._i2v: _ConfigEngine | None = None
        self.max_input_frames = self._main.max_frames
        self.max_input_pixels = self._main.max_pixels

    def validate(self, params: Any) -> Any:
        if params.mode != "i2v" or "i2v" in self._main.modes or self._i2v_model is None:
            return self._main.validate(params)  # without an i2v model: the engine's own message
        if self._i2v is None:
            self._i2v = _ConfigEngine(self._i2v_model)
        return self._i2v.validate(params)
