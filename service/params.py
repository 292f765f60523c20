"""The generation parameters: one schema with one set of limits (see docs/architecture.md).

The SDK checks a request against it before sending, Submit checks it again (a client may be
anything), and the engine checks it before running and then adds the limits of the model it loaded
(token counts, 8N+1 frames, the family's sizes). Field names are the proto's and diffusers':
`prompt`, `negative_prompt`, `num_inference_steps`, `guidance_scale`, `num_frames`, `height`, `width`,
`fps`, `seed`, plus `mode`, `strength` and the `image` / `video` inputs.

Pure Python on purpose: the light SDK imports this module without numpy, torch or diffusers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MODES: tuple[str, ...] = ("t2v", "i2v", "v2v")
MAX_SEED = 2**63 - 1
# CogVideoX's VAE compresses 8x and its transformer takes 2x2 latent patches: sides divide by 16.
SIDE_MULTIPLE = 16
MAX_SIDE = 2048
# The longest clip any CogVideoX family takes (1.5: 16N+1, 10 s at 16 fps).
MAX_FRAMES = 161


class ParameterError(ValueError):
    """A parameter outside the schema; ``field`` names it as the proto does (without ``params.``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limit:
    """The allowed range of one numeric parameter (``low_open``: the low end itself is excluded)."""

    low: float
    high: float
    integer: bool = True
    low_open: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if self.integer:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                return f"must be an integer, got {value!r}"
        elif isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return f"must be a number, got {value!r}"
        below = value <= self.low if self.low_open else value < self.low
        if below or value > self.high:
            return f"must be in {self.describe()}, got {value!r}"
        return None

    def describe(self) -> str:
        if self.low_open:
            return f"({self.low:g}, {self.high:g}]"
        return f"{self.low:g}..{self.high:g}"


LIMITS: dict[str, Limit] = {
    "seed": Limit(0, MAX_SEED),
    "num_inference_steps": Limit(1, 200),
    "guidance_scale": Limit(1.0, 30.0, integer=False),
    "num_frames": Limit(1, MAX_FRAMES),
    "fps": Limit(1, 60),
    "width": Limit(SIDE_MULTIPLE, MAX_SIDE),
    "height": Limit(SIDE_MULTIPLE, MAX_SIDE),
    "strength": Limit(0.0, 1.0, integer=False, low_open=True),  # v2v only
}


@dataclass(kw_only=True)
class Numbers:
    """The numeric parameters of a request; None means "the model's default". Request types (the
    flow's `SubmitInput`) extend it, so the field list is written once."""

    seed: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    num_frames: int | None = None
    fps: int | None = None
    width: int | None = None
    height: int | None = None
    strength: float | None = None  # v2v: how much of the input video is re-noised

    def numbers(self) -> dict[str, Any]:
        """The numeric parameters that are set."""
        return {n: getattr(self, n) for n in NUMERIC_FIELDS if getattr(self, n) is not None}


NUMERIC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Numbers))
assert set(NUMERIC_FIELDS) == set(LIMITS), "every numeric parameter has exactly one limit"


def check(name: str, value: Any) -> None:
    """ParameterError when ``value`` breaks the schema's limit for ``name``."""
    problem = LIMITS[name].problem(value)
    if problem is not None:
        raise ParameterError(name, problem)
    if name in ("width", "height") and value % SIDE_MULTIPLE:
        raise ParameterError(
            name, f"must be a multiple of {SIDE_MULTIPLE} (VAE 8x and 2x2 patches), got {value}"
        )


def check_all(values: Mapping[str, Any]) -> None:
    """Check every numeric parameter that is set (None means "the model's default")."""
    for name in NUMERIC_FIELDS:
        if values.get(name) is not None:
            check(name, values[name])


def resolve_mode(mode: str | None, *, has_image: bool, has_video: bool, has_strength: bool = False) -> str:
    """The request's mode ("" or None: t2v unless an image or a video is given), checked against
    its inputs: each input belongs to its mode, a stray one is an error, never ignored."""
    mode = mode or ("i2v" if has_image else "v2v" if has_video else "t2v")
    if mode not in MODES:
        raise ParameterError("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "i2v" and not has_image:
        raise ParameterError("image", "is required in i2v mode (image-to-video needs an image)")
    if mode == "v2v" and not has_video:
        raise ParameterError("video", "is required in v2v mode (video-to-video needs a video)")
    if mode != "v2v" and has_strength:
        raise ParameterError("strength", f"only used in v2v mode, not {mode}")
    if mode != "i2v" and has_image:
        raise ParameterError("image", f"an image is only used by i2v, not {mode}")
    if mode != "v2v" and has_video:
        raise ParameterError("video", f"a video is only used by v2v, not {mode}")
    return mode
