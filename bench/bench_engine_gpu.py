"""GPU benchmark: plain diffusers CogVideoX pipeline vs Veriframe's Engine, same weights, same run.

Builds the real CogVideoX-5b or -2b architecture (transformer, VAE, T5-XXL text encoder) from the
published configs below with random weights (no hub access needed), then times a 720x480, 49-frame,
50-step generation twice:
  1. baseline: `CogVideoXPipeline(...).to("cuda")`, nothing else (the plain diffusers path);
  2. Veriframe: `Engine.from_pipeline(...)` with its fast path: no offload, fused QKV projections,
     optional `torch.compile` (--compile) and a pinned SDPA backend (--attention).
Each gets one short warm-up run first (kernel selection, compilation). Printed: seconds per step,
total seconds, peak GPU memory, the speed ratio, and how far apart the two outputs are (the fast path
must not change the video beyond bf16 rounding).

    python bench/bench_engine_gpu.py --model 5b            # on a CUDA machine
    python bench/bench_engine_gpu.py --tiny                # CPU smoke test of this script

Random weights make the pictures meaningless but the cost identical to the trained models.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

# ------------------------------------------------------------- published configs (Hugging Face THUDM/*)
_TRANSFORMER_COMMON = {
    "activation_fn": "gelu-approximate",
    "attention_bias": True,
    "attention_head_dim": 64,
    "dropout": 0.0,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 16,
    "max_text_seq_length": 226,
    "norm_elementwise_affine": True,
    "norm_eps": 1e-05,
    "out_channels": 16,
    "patch_size": 2,
    "sample_frames": 49,
    "sample_height": 60,
    "sample_width": 90,
    "spatial_interpolation_scale": 1.875,
    "temporal_compression_ratio": 4,
    "temporal_interpolation_scale": 1.0,
    "text_embed_dim": 4096,
    "time_embed_dim": 512,
    "timestep_activation_fn": "silu",
}
_VAE_COMMON = {
    "act_fn": "silu",
    "block_out_channels": [128, 256, 256, 512],
    "down_block_types": ["CogVideoXDownBlock3D"] * 4,
    "up_block_types": ["CogVideoXUpBlock3D"] * 4,
    "force_upcast": True,
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 16,
    "layers_per_block": 3,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "sample_height": 480,
    "sample_width": 720,
    "temporal_compression_ratio": 4,
    "use_post_quant_conv": False,
    "use_quant_conv": False,
}
_SCHEDULER_COMMON = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "set_alpha_to_one": True,
    "steps_offset": 0,
    "timestep_spacing": "trailing",
}
# google/t5-v1_1-xxl encoder, as shipped in THUDM/CogVideoX-*/text_encoder
T5_XXL = {
    "d_ff": 10240,
    "d_kv": 64,
    "d_model": 4096,
    "dense_act_fn": "gelu_new",
    "feed_forward_proj": "gated-gelu",
    "is_encoder_decoder": False,
    "layer_norm_epsilon": 1e-06,
    "num_heads": 64,
    "num_layers": 24,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False,
    "vocab_size": 32128,
}
MODELS: dict[str, dict[str, Any]] = {
    "2b": {
        "transformer": {**_TRANSFORMER_COMMON, "num_attention_heads": 30, "num_layers": 30},
        "vae": {**_VAE_COMMON, "scaling_factor": 1.15258426},
        "scheduler": {**_SCHEDULER_COMMON, "snr_shift_scale": 3.0},
        "text_encoder": T5_XXL,
        "dtype": "float16",  # the model card's dtype for 2b
    },
    "5b": {
        "transformer": {
            **_TRANSFORMER_COMMON,
            "num_attention_heads": 48,
            "num_layers": 42,
            "use_rotary_positional_embeddings": True,
        },
        "vae": {**_VAE_COMMON, "scaling_factor": 0.7},
        "scheduler": {**_SCHEDULER_COMMON, "snr_shift_scale": 1.0},
        "text_encoder": T5_XXL,
        "dtype": "bfloat16",
    },
}


def _tiny_configs() -> dict[str, Any]:
    from veriframe.service.engine import tiny

    return {
        "transformer": {**tiny._TRANSFORMER_CONFIG, "in_channels": tiny._VAE_CONFIG["latent_channels"]},
        "vae": tiny._VAE_CONFIG,
        "scheduler": tiny._SCHEDULER_CONFIG,
        "text_encoder": tiny._T5_CONFIG,
        "dtype": "float32",
    }


def build_pipeline(configs: dict[str, Any], device: str) -> Any:
    """A CogVideoXPipeline with random weights, each component built directly on ``device``."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    from veriframe.service.engine.tiny import _tokenizer

    dtype = getattr(torch, configs["dtype"])
    torch.manual_seed(0)
    tokenizer = _tokenizer()  # any T5 tokenizer: the encoder always sees 226 padded tokens
    text_config = {"vocab_size": max(len(tokenizer), 32), **configs["text_encoder"]}
    with torch.device(device):  # allocate and initialise on the GPU: seconds instead of minutes
        text_encoder = T5EncoderModel(T5Config(**text_config)).to(dtype).eval()
        transformer = CogVideoXTransformer3DModel(**configs["transformer"]).to(dtype).eval()
        vae = AutoencoderKLCogVideoX(**configs["vae"]).to(dtype).eval()
    scheduler = CogVideoXDDIMScheduler(**configs["scheduler"])
    pipe = CogVideoXPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


class _Clock:
    """Step timestamps (synchronised with the GPU) and peak memory of one run."""

    def __init__(self, device: str) -> None:
        import torch

        self.cuda = device.startswith("cuda")
        self.torch = torch
        self.steps: list[float] = []
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.start = time.perf_counter()

    def step(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()
        self.steps.append(time.perf_counter() - self.start)

    def result(self) -> dict[str, float]:
        if self.cuda:
            self.torch.cuda.synchronize()
        total = time.perf_counter() - self.start
        per_step = (self.steps[-1] - self.steps[0]) / (len(self.steps) - 1) if len(self.steps) > 1 else 0.0
        peak = (
            self.torch.cuda.max_memory_allocated() / 2**30
            if self.cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # CPU: process peak RSS
        )
        return {
            "total_s": round(total, 3),
            "s_per_step": round(per_step, 4),
            "before_first_step_s": round(self.steps[0], 3) if self.steps else 0.0,
            "after_last_step_s": round(total - self.steps[-1], 3) if self.steps else 0.0,
            "peak_memory_gib": round(peak, 2),
        }


def run_baseline(pipe: Any, args: argparse.Namespace, steps: int) -> tuple[dict[str, float], Any]:
    import numpy as np
    import torch

    clock = _Clock(args.device)

    def on_step(_pipe: Any, _i: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        clock.step()
        return tensors

    frames = pipe(
        prompt=args.prompt,
        height=args.height,
        width=args.width,
        num_frames=args.frames,
        num_inference_steps=steps,
        guidance_scale=6.0,
        generator=torch.Generator(device=args.device).manual_seed(args.seed),
        output_type="np",
        callback_on_step_end=on_step,
    ).frames[0]
    return clock.result(), (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


def run_engine(engine: Any, args: argparse.Namespace, steps: int) -> tuple[dict[str, float], Any]:
    from veriframe.service.engine import GenerationParams

    clock = _Clock(args.device)
    video = engine.generate(
        GenerationParams(
            prompt=args.prompt,
            seed=args.seed,
            num_inference_steps=steps,
            guidance_scale=6.0,
            num_frames=args.frames,
            width=args.width,
            height=args.height,
        ),
        on_step=lambda done, total: clock.step(),
    )
    return clock.result(), video.frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(MODELS), default="5b", help="architecture to build (5b)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test with the tiny model's shapes")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (50; 2 with --tiny)")
    parser.add_argument("--frames", type=int, default=None, help="frames (49; 9 with --tiny)")
    parser.add_argument("--width", type=int, default=None, help="width (720; 256 with --tiny)")
    parser.add_argument("--height", type=int, default=None, help="height (480; 256 with --tiny)")
    parser.add_argument("--compile", action="store_true", help="Engine: torch.compile the transformer")
    parser.add_argument(
        "--attention",
        choices=["cudnn", "flash", "efficient"],
        default=None,
        help="Engine: pin the SDPA backend",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="time the Engine only")
    parser.add_argument("--warmup-steps", type=int, default=2, help="steps of the untimed warm-up run (2)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prompt", default="A golden retriever running on a beach at sunset, cinematic")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import torch

    if args.tiny:
        args.device = "cpu"
        configs, name = _tiny_configs(), "tiny (CPU smoke test)"
        defaults = {"steps": 2, "frames": 9, "width": 256, "height": 256}
    else:
        if not torch.cuda.is_available():
            print(
                "bench_engine_gpu: no CUDA device. This benchmark needs an NVIDIA GPU with a CUDA build of "
                "torch (see docs/engine.md); run with --tiny for a CPU smoke test of the script.",
                file=sys.stderr,
            )
            return 2
        args.device = "cuda"
        configs, name = MODELS[args.model], f"CogVideoX-{args.model} (random weights)"
        defaults = {"steps": 50, "frames": 49, "width": 720, "height": 480}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    from veriframe.service.engine import Engine

    started = time.perf_counter()
    pipe = build_pipeline(configs, args.device)
    built = time.perf_counter() - started
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(
        f"{name} on {device_name}: built in {built:.1f} s; {args.width}x{args.height}, {args.frames} frames, "
        f"{args.steps} steps, guidance 6, torch {torch.__version__}"
    )

    results: dict[str, Any] = {
        "model": name,
        "device": device_name,
        "width": args.width,
        "height": args.height,
        "frames": args.frames,
        "steps": args.steps,
        "torch": torch.__version__,
    }
    baseline_frames = None
    if not args.skip_baseline:
        pipe.to(args.device)
        run_baseline(pipe, args, args.warmup_steps)
        results["baseline"], baseline_frames = run_baseline(pipe, args, args.steps)
        print(f"  baseline (plain diffusers pipeline): {results['baseline']}")

    # The engine takes over the same modules (same weights): fused QKV is applied in place now.
    engine = Engine.from_pipeline(
        pipe,
        name=f"bench/{args.model if not args.tiny else 'tiny'}",
        version="random-weights",
        device=args.device,
        compile=args.compile,
        attention=args.attention,
    )
    run_engine(engine, args, args.warmup_steps)
    results["engine"], engine_frames = run_engine(engine, args, args.steps)
    results["engine_options"] = {
        "fuse_qkv": args.device == "cuda",
        "compile": args.compile,
        "attention": args.attention or "pytorch default",
        "offload": "none",
    }
    print(f"  veriframe Engine ({results['engine_options']}): {results['engine']}")

    if baseline_frames is not None:
        import numpy as np

        base, fast = results["baseline"], results["engine"]
        results["ratio_total"] = round(base["total_s"] / fast["total_s"], 3)
        results["ratio_per_step"] = (
            round(base["s_per_step"] / fast["s_per_step"], 3) if fast["s_per_step"] else None
        )
        diff = np.abs(baseline_frames.astype(np.int16) - engine_frames.astype(np.int16))
        results["output_mean_abs_diff"] = round(float(diff.mean()), 3)
        results["output_max_abs_diff"] = int(diff.max())
        ratio, per_step = results["ratio_total"], results["ratio_per_step"]
        print(f"  speed-up (baseline / engine): total x{ratio}, per step x{per_step}")
        mean, worst = results["output_mean_abs_diff"], results["output_max_abs_diff"]
        print(f"  output difference (uint8): mean {mean}, max {worst}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
