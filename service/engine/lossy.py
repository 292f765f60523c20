"""Opt-in speed-ups that change the video: fp8 matmuls (torchao) and diffusers' step-caching hooks.

Every one is labelled (``EngineOptions.lossy`` -> the video's params -> job, manifest, ledger).
Cache presets follow the settings diffusers documents for CogVideoX; ``bench/bench_engine_gpu.py``
measures their speed-up and PSNR/SSIM against the exact video on the same seed.
"""

from __future__ import annotations

from typing import Any

from veriframe.service.engine.options import EngineOptions, OptionError


def fp8_config() -> Any:
    """torchao's float8 dynamic-activation + float8-weight config, per-row scales (the fastest on Hopper)."""
    try:
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow
    except ImportError:
        raise OptionError("fp8 needs torchao: pip install 'veriframe-service[fp8]'") from None
    return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())


def apply_fp8(transformer: Any) -> None:
    """Quantise the transformer's linear layers in place (the VAE and T5 stay in bf16)."""
    from torchao.quantization import quantize_

    quantize_(transformer, fp8_config())


def cache_config(name: str, pipe: Any, options: EngineOptions) -> Any:
    """The diffusers cache config of preset ``name`` for ``pipe`` (see docs/engine.md for each)."""
    import torch
    from diffusers import (
        FasterCacheConfig,
        FirstBlockCacheConfig,
        MagCacheConfig,
        PyramidAttentionBroadcastConfig,
        TaylorSeerCacheConfig,
    )

    def timestep() -> Any:
        return pipe.current_timestep

    if name == "pab":  # recompute spatial attention every 2nd step between timesteps 800 and 100
        return PyramidAttentionBroadcastConfig(
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=(100, 800),
            current_timestep_callback=timestep,
        )
    if name == "faster":  # attention reuse + unconditional-branch reuse, CogVideoX latents are BFCHW
        return FasterCacheConfig(
            spatial_attention_block_skip_range=2,
            spatial_attention_timestep_skip_range=(-1, 681),
            current_timestep_callback=timestep,
            attention_weight_callback=lambda _: 0.3,
            tensor_format="BFCHW",
            is_guidance_distilled=False,
        )
    if name == "fbc":  # skip all blocks after the first while its residual barely changes
        if len(pipe.transformer.transformer_blocks) < 2:
            raise OptionError("cache=fbc needs a transformer with at least 2 blocks")
        return FirstBlockCacheConfig(threshold=float(options.extra.get("fbc_threshold", 0.05)))
    if name == "taylorseer":  # predict attention outputs by a first-order Taylor series between refreshes
        # diffusers' default patterns must match a whole name ending in "attn": CogVideoX's is "attn1".
        return TaylorSeerCacheConfig(
            cache_interval=5,
            disable_cache_before_step=3,
            max_order=1,
            taylor_factors_dtype=torch.float32,
            cache_identifiers=[r"transformer_blocks\.\d+\.attn1"],
        )
    if name == "mag":  # skip steps while the residual magnitude ratio stays near the calibrated one
        ratios = options.extra.get("mag_ratios")
        if not ratios:
            raise OptionError(
                "cache=mag needs the model's magnitude ratios (mag_ratios): they are checkpoint-dependent; "
                "see docs/engine.md for calibrating them"
            )
        if len(pipe.transformer.transformer_blocks) < 2:
            raise OptionError("cache=mag needs a transformer with at least 2 blocks")
        # The hook counts steps to know when a video ends: the engine refuses other step counts.
        steps = int(options.extra.get("mag_steps", len(ratios)))
        return MagCacheConfig(mag_ratios=list(ratios), num_inference_steps=steps)
    raise OptionError(f"unknown cache preset {name!r}")


def apply_cache(pipe: Any, options: EngineOptions) -> None:
    if options.cache != "none":
        pipe.transformer.enable_cache(cache_config(options.cache, pipe, options))
