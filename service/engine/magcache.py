"""MagCache calibration: record a checkpoint's magnitude ratios from one real run, store them beside it.

MagCache (``cache="mag"``) skips transformer steps while the ratio of successive residual magnitudes
stays close to the model's calibrated curve, so it needs that curve for the checkpoint and the step
count it serves. diffusers computes it in calibration mode (``MagCacheConfig(calibrate=True)``: no
step is skipped; after each step the tail block's residual norm is divided by the previous one's) and
only prints it; here the same numbers are taken from diffusers' own hook as it computes them.

The result is a small JSON file, ``veriframe-magcache.json`` beside ``model_index.json`` by default,
which ``Engine.load`` reads when ``cache="mag"`` is asked for without ``mag_ratios`` (or set them in
the settings: ``mag_ratios`` and, when they differ, ``mag_steps``). Calibrate with the real weights
at the size, frame count, guidance and step count you serve: the curve depends on all of them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

CALIBRATION_FILE = "veriframe-magcache.json"


def calibrate(engine: Any, params: Any) -> dict[str, Any]:
    """Run ``params`` once with diffusers' MagCache calibration hooks on; returns the calibration record."""
    from diffusers import MagCacheConfig
    from diffusers.hooks.mag_cache import _MAG_CACHE_BLOCK_HOOK

    if engine.options.cache != "none":
        raise ValueError(f"calibrate without step caching (this engine has cache={engine.options.cache})")
    run = engine.validate(params)
    transformer = engine.pipe.transformer
    transformer.enable_cache(MagCacheConfig(calibrate=True, num_inference_steps=run.denoising_steps))
    tail = transformer.transformer_blocks[-1]._diffusers_hook.get_hook(_MAG_CACHE_BLOCK_HOOK)
    ratios: list[float] = []
    compute = tail._perform_calibration_step

    def record(state: Any, residual: Any) -> None:  # diffusers' own computation, values kept
        compute(state, residual)
        ratios.append(float(state.calibration_ratios[-1]))

    tail._perform_calibration_step = record
    try:
        video = engine.generate(params)
    finally:
        transformer.disable_cache()
    if len(ratios) != run.denoising_steps or not all(math.isfinite(r) and r > 0 for r in ratios):
        raise RuntimeError(f"calibration gave {len(ratios)} ratios for {run.denoising_steps} steps: {ratios}")
    return {
        "model": engine.info.name,
        "version": engine.info.version,
        "mag_ratios": ratios,
        "mag_steps": run.denoising_steps,
        "width": video.params["width"],
        "height": video.params["height"],
        "num_frames": video.params["num_frames"],
        "guidance_scale": video.params["guidance_scale"],
        "seed": video.seed,
    }


def write(record: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_beside(model_path: Path | str | None) -> dict[str, Any] | None:
    """The calibration stored beside a local checkpoint, or None."""
    if not model_path:
        return None
    path = Path(model_path) / CALIBRATION_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return {"mag_ratios": [float(r) for r in record["mag_ratios"]], "mag_steps": int(record["mag_steps"])}
