"""The CogVideoX generation engine (the only package that imports diffusers).

Importing this package is cheap: torch and diffusers load on ``Engine.load``.
"""

from veriframe.service.engine.engine import (
    FAMILIES,
    Cancelled,
    Engine,
    Family,
    GeneratedVideo,
    GenerationParams,
    InvalidParameter,
    ModelInfo,
    ModelLoadError,
    ResolvedParams,
    inspect_model,
)
from veriframe.service.engine.options import EngineOptions, OptionError

__all__ = [
    "FAMILIES",
    "Cancelled",
    "Engine",
    "EngineOptions",
    "Family",
    "GeneratedVideo",
    "GenerationParams",
    "InvalidParameter",
    "ModelInfo",
    "ModelLoadError",
    "OptionError",
    "ResolvedParams",
    "inspect_model",
]
