"""Exact speed-ups applied to a loaded pipeline: regional compile, VAE channels-last, and warm-up.

Regional compile: diffusers' ``compile_repeated_blocks()`` needs ``_repeated_blocks``, which
CogVideoX leaves empty, so each ``CogVideoXBlock`` is compiled here with ``Module.compile``. The
blocks share one code object and PyTorch inlines module parameters as graph inputs, so one graph
serves all 30/42 blocks: compile time is one block's, not the model's.

Dynamic-shape policy (``compile_dynamic``):
- ``auto`` (default, ``dynamic=None``): the first shape compiles a static graph; a second shape
  recompiles once with symbolic sizes, which then serves every other size and frame count;
- ``static`` (``dynamic=False``): one specialised graph per shape (fastest kernels); with more than
  ``torch._dynamo.config.cache_size_limit`` (8) shapes PyTorch falls back to eager for the rest:
  use it with a fixed set of sizes and warm them all up;
- ``dynamic`` (``dynamic=True``): symbolic from the start, one compile for every shape.
Warm-up (``EngineOptions.warmup``) runs a two-step generation at each configured shape at load
time, so the first request never pays for compilation or kernel autotuning.
"""

from __future__ import annotations

import time
from typing import Any

from veriframe.service.engine.options import COMPILE_DYNAMIC, EngineOptions


def compile_transformer(transformer: Any, options: EngineOptions) -> int:
    """Compile per block ("blocks") or the whole transformer ("full"); returns how many modules."""
    if options.compile in (None, "none"):
        return 0
    kwargs: dict[str, Any] = {
        "dynamic": COMPILE_DYNAMIC[options.compile_dynamic],
        "backend": options.compile_backend,
    }
    if options.compile_mode:
        kwargs["mode"] = options.compile_mode
    if options.compile == "full":
        transformer.compile(**kwargs)
        return 1
    for block in transformer.transformer_blocks:
        block.compile(**kwargs)
    return len(transformer.transformer_blocks)


def vae_channels_last(vae: Any) -> int:
    """Store every Conv3d weight channels-last-3d (cuDNN's fast layout); returns how many.

    ``vae.to(memory_format=...)`` cannot be used: the CogVideoX VAE also holds 4-D Conv2d weights,
    which have no 3-D channels-last layout. Convolution then follows the weight's layout.
    """
    import torch

    count = 0
    for module in vae.modules():
        if isinstance(module, torch.nn.Conv3d):
            module.weight.data = module.weight.data.to(memory_format=torch.channels_last_3d)
            count += 1
    return count


def warm_up(
    engine: Any, shapes: tuple[tuple[int, int, int], ...], *, make_params: Any, steps: int = 2
) -> list[dict[str, Any]]:
    """Generate ``steps`` steps at each shape (width, height, frames) and discard the frames.

    ``make_params`` is the engine's GenerationParams class (passed in: the engine module imports this
    one). Returns one record per shape with its wall time (compile + run), for the worker's log.
    """
    done = []
    for width, height, frames in shapes:
        started = time.perf_counter()
        engine.generate(
            make_params(
                prompt="warm-up",
                seed=0,
                num_inference_steps=steps,
                width=width,
                height=height,
                num_frames=frames,
            )
        )
        done.append(
            {"shape": f"{width}x{height}x{frames}", "seconds": round(time.perf_counter() - started, 2)}
        )
    return done
