"""GPU benchmark: plain diffusers CogVideoX (model card setup) vs each Engine configuration, interleaved.

Builds the real CogVideoX-5b or -2b architecture (transformer, VAE, T5-XXL encoder) from the
published configs below with random weights (no hub), then, on the same weights and seed, runs
in rounds: every configuration once per round, ``--repeats`` rounds, so drift (clocks, thermals,
other load) hits all of them alike. Configurations:

  baseline  diffusers' CogVideoXPipeline as the model card sets it up (VAE tiling + slicing; the
            card's CPU offload only with --baseline-offload, it is a memory saver, not a speed one)
  exact     Engine defaults on CUDA: fused QKV (unfused weights dropped), attention through
            diffusers' dispatcher (SDPA), VAE channels-last-3d; no compile
  compile   exact + regional torch.compile of every transformer block (warm-up excluded)
  fp8       compile + torchao float8 dynamic activation/weight (lossy, labelled)
  cache     fp8 + a step-caching hook (--cache, default pab) (lossy, labelled)
  parallel:MODE  exact over several devices, one video (--devices; default: every visible GPU
            when there are 2 or more): --parallel cfg (2 devices), sequence (Ulysses over all) or
            cfg+sequence (4, 6, 8 ...; the default on 4+). One mode per run: a process holds one
            torch.distributed group. Every rank builds the same random weights (same seed).

Reported per configuration: median s/step, total (measured, and extrapolated to --full-steps with
the rule printed), peak GPU memory, whether every latent and pixel was finite, and the difference
of its frames to the exact configuration's (max/mean abs, PSNR, SSIM). Random weights make the
pictures meaningless but the cost identical to the trained models; PSNR/SSIM then measure how much
an option perturbs the computation, not visual quality (see service/engine/quality.py).

    python bench/bench_engine_gpu.py --model 5b --out bench-5b.json     # ~9 min on one H100 (split it: docs)
    python bench/bench_engine_gpu.py --tiny --out tiny.json             # CPU smoke test, same code
    python bench/bench_engine_gpu.py --tiny --devices cpu,cpu --parallel sequence  # 2 gloo ranks
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import resource
import statistics
import sys
import time
from dataclasses import replace
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


CONFIGS = ("baseline", "exact", "compile", "fp8", "cache")


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
        gaps = [b - a for a, b in zip(self.steps, self.steps[1:], strict=False)]
        peak = (
            self.torch.cuda.max_memory_allocated() / 2**30
            if self.cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # CPU: process peak RSS
        )
        return {
            "total_s": total,
            "s_per_step": statistics.median(gaps) if gaps else 0.0,
            "before_first_step_s": self.steps[0] if self.steps else 0.0,
            "after_last_step_s": total - self.steps[-1] if self.steps else 0.0,
            "peak_memory_gib": peak,
        }


def _to_uint8(frames: Any) -> Any:
    import numpy as np

    return (np.clip(frames, 0, 1) * 255).round().astype(np.uint8)


def run_baseline(pipe: Any, args: argparse.Namespace, steps: int) -> tuple[dict[str, float], Any, bool]:
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
    return clock.result(), _to_uint8(frames), bool(np.isfinite(frames).all())


def run_engine(engine: Any, args: argparse.Namespace, steps: int) -> tuple[dict[str, float], Any, bool]:
    from veriframe.service.engine import GenerationParams
    from veriframe.service.engine.engine import NonFiniteOutput

    clock = _Clock(args.device)
    try:
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
    except NonFiniteOutput:
        return clock.result(), None, False
    return clock.result(), video.frames, True


def build_runners(args: argparse.Namespace, configs: dict[str, Any]) -> dict[str, Any]:
    """One runner per configuration, each on its own copy of the transformer (same weights)."""
    from veriframe.service.engine import Engine, EngineOptions
    from veriframe.service.engine.tiny import build_random_pipeline

    pipe = build_random_pipeline(configs, args.device)

    def own_copy() -> Any:  # the text encoder is shared; transformer and VAE are changed in place
        return type(pipe)(
            **{
                **pipe.components,
                "transformer": copy.deepcopy(pipe.transformer),
                "vae": copy.deepcopy(pipe.vae),
            }
        )

    base = own_copy()
    base.set_progress_bar_config(disable=True)
    if args.baseline_offload == "model":
        base.enable_model_cpu_offload()
    elif args.baseline_offload == "sequential":
        base.enable_sequential_cpu_offload()
    else:
        base.to(args.device)
    base.vae.enable_tiling()  # the model card's memory settings
    base.vae.enable_slicing()
    runners: dict[str, Any] = {"baseline": lambda steps: run_baseline(base, args, steps)}

    cuda = args.device.startswith("cuda")
    backend = "inductor" if cuda else "aot_eager"  # (CPU smoke test: no C++ toolchain time)
    exact = EngineOptions(
        device=args.device,
        fuse_qkv=True,
        vae_channels_last=True,
        compile="none",
        attention=args.attention,
        vae_tiling=True,
        vae_slicing=True,
    )
    compiled = replace(exact, compile="blocks", compile_backend=backend, compile_mode=args.compile_mode)
    options = {
        "exact": exact,
        "compile": compiled,
        "fp8": replace(compiled, fp8=True),
        "cache": replace(compiled, fp8=cuda, cache=args.cache),
    }
    for name in args.configs:
        if name == "baseline":
            continue
        if name == "fp8" and not cuda:
            print("  fp8: skipped (needs a CUDA GPU with compute capability 8.9+)")
            continue
        own = copy.copy(pipe)
        own.transformer = copy.deepcopy(pipe.transformer)
        own.vae = copy.deepcopy(pipe.vae)
        engine = Engine.from_pipeline(
            own, name=f"bench/{args.model}", version="random-weights", options=options[name]
        )
        runners[name] = lambda steps, engine=engine: run_engine(engine, args, steps)
    if len(args.devices) > 1:
        runners.update(parallel_runner(args, configs, exact))
    return runners


def build_rank_engine(configs: dict[str, Any], name: str, options: Any) -> Any:
    """One rank's engine of a multi-device run: the same seed builds the same random weights."""
    from veriframe.service.engine import Engine
    from veriframe.service.engine.tiny import build_random_pipeline

    pipe = build_random_pipeline(configs, options.device)
    return Engine.from_pipeline(pipe, name=name, version="random-weights", options=options)


def parallel_runner(args: argparse.Namespace, configs: dict[str, Any], exact: Any) -> dict[str, Any]:
    """The ``parallel:MODE`` runner over ``args.devices`` (rank 0 here, one process per other device)."""
    from veriframe.service.engine.parallel import ParallelEngine

    devices = tuple(args.devices[:2] if args.parallel == "cfg" else args.devices)
    try:
        options = replace(
            exact,
            device=None,
            devices=devices,
            parallel=args.parallel,
            sequence_parallel=args.sequence_parallel,
        ).resolve()
    except ValueError as exc:  # e.g. cfg+sequence on 2 devices
        print(f"  parallel:{args.parallel}: skipped ({exc})")
        return {}
    build = functools.partial(build_rank_engine, configs, f"bench/{args.model}")
    engine = ParallelEngine(build, options)
    args.close.append(engine.close)
    return {f"parallel:{options.parallel}": lambda steps: run_engine(engine, args, steps)}


def _extrapolate(run: dict[str, float], measured_steps: int, full_steps: int) -> float:
    """total(full) = total(measured) + (full - measured) x median s/step."""
    return run["total_s"] + (full_steps - measured_steps) * run["s_per_step"]


def summarise(args: argparse.Namespace, runs: dict[str, list[tuple[dict, Any, bool]]]) -> dict[str, Any]:
    from veriframe.service.engine.quality import compare

    reference = next((r[1] for r in runs.get("exact", []) if r[1] is not None), None)
    out: dict[str, Any] = {}
    for name, results in runs.items():
        timings = [r[0] for r in results]
        frames = results[-1][1]
        entry = {
            "repeats": len(results),
            "s_per_step": round(statistics.median(t["s_per_step"] for t in timings), 4),
            "total_s": round(statistics.median(t["total_s"] for t in timings), 3),
            "total_s_extrapolated": round(
                statistics.median(_extrapolate(t, args.steps, args.full_steps) for t in timings), 2
            ),
            "peak_memory_gib": round(max(t["peak_memory_gib"] for t in timings), 2),
            "finite": all(r[2] for r in results),
        }
        if reference is not None and frames is not None:
            entry["vs_exact"] = compare(reference, frames)
        out[name] = entry
    base = out.get("baseline")
    for entry in out.values():
        if base and entry["s_per_step"]:
            entry["speedup_per_step_vs_baseline"] = round(base["s_per_step"] / entry["s_per_step"], 3)
            entry["speedup_total_vs_baseline"] = round(
                base["total_s_extrapolated"] / entry["total_s_extrapolated"], 3
            )
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", choices=sorted(MODELS), default="5b", help="architecture to build (5b)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke test with the tiny model's shapes")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"which to run ({','.join(CONFIGS)})")
    parser.add_argument("--steps", type=int, default=None, help="measured steps per run (10; 2 with --tiny)")
    parser.add_argument(
        "--full-steps", type=int, default=50, help="steps the totals are extrapolated to (50)"
    )
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument("--frames", type=int, default=None, help="frames (49; 9 with --tiny)")
    parser.add_argument("--width", type=int, default=None, help="width (720; 256 with --tiny)")
    parser.add_argument("--height", type=int, default=None, help="height (480; 256 with --tiny)")
    parser.add_argument("--attention", default="sdpa", help="Engine attention backend (sdpa; cudnn, fa3 ...)")
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode for compile/fp8/cache")
    parser.add_argument("--cache", default="pab", help="cache preset of the 'cache' configuration (pab)")
    parser.add_argument(
        "--devices",
        default=None,
        help="several devices for the parallel:MODE configurations (default: all visible GPUs when 2+; "
        "'none' to skip; cpu,cpu with --tiny)",
    )
    parser.add_argument(
        "--parallel", default=None, help="mode over --devices: cfg, sequence, cfg+sequence (default by count)"
    )
    parser.add_argument(
        "--sequence-parallel", choices=["ulysses", "ring"], default="ulysses", help="sequence split (ulysses)"
    )
    parser.add_argument("--baseline-offload", choices=["none", "model", "sequential"], default="none")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--prompt", default="A golden retriever running on a beach at sunset, cinematic")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = sorted(set(args.configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown configuration(s): {', '.join(unknown)}")

    import torch

    if args.tiny:
        from veriframe.service.engine.tiny import tiny_configs

        args.device, configs, name = "cpu", tiny_configs(num_layers=2), "tiny (CPU smoke test)"
        # 2 heads of 8 (the tiny model's 1 x 16): Ulysses can split them over 2 ranks
        configs["transformer"].update(num_attention_heads=2, attention_head_dim=8)
        defaults = {"steps": 2, "frames": 9, "width": 256, "height": 256}
    else:
        if not torch.cuda.is_available():
            print(
                "bench_engine_gpu: no CUDA device. This benchmark needs an NVIDIA GPU with a CUDA build of "
                "torch (see docs/engine.md); run with --tiny for a CPU smoke test of the script.",
                file=sys.stderr,
            )
            return 2
        args.device, configs, name = "cuda", MODELS[args.model], f"CogVideoX-{args.model} (random weights)"
        defaults = {"steps": 10, "frames": 49, "width": 720, "height": 480}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.devices = _devices(args.devices, args.device)
    if args.parallel is None and len(args.devices) > 1:
        from veriframe.service.engine import EngineOptions

        args.parallel = EngineOptions(devices=tuple(args.devices)).parallel_mode
    args.close = []

    started = time.perf_counter()
    runners = build_runners(args, configs)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(
        f"{name} on {device_name}: built in {time.perf_counter() - started:.1f} s; "
        f"{args.width}x{args.height}, "
        f"{args.frames} frames, {args.steps} measured steps x {args.repeats} interleaved rounds, torch "
        f"{torch.__version__}\n  extrapolation: total({args.full_steps}) = total({args.steps}) + "
        f"({args.full_steps} - {args.steps}) x median s/step"
    )
    for label, runner in runners.items():  # warm-up: compile, kernel selection; not timed
        warm = time.perf_counter()
        runner(2)
        print(f"  warm-up {label}: {time.perf_counter() - warm:.1f} s")
    runs: dict[str, list] = {label: [] for label in runners}
    for _ in range(args.repeats):
        for label, runner in runners.items():
            runs[label].append(runner(args.steps))
    summary = summarise(args, runs)
    for label, entry in summary.items():
        print(f"  {label:9s} {json.dumps(entry)}")
    result = {
        "model": name,
        "device": device_name,
        "torch": torch.__version__,
        "width": args.width,
        "height": args.height,
        "frames": args.frames,
        "steps_measured": args.steps,
        "steps_extrapolated_to": args.full_steps,
        "repeats": args.repeats,
        "devices": args.devices,
        "extrapolation": "total(full) = total(measured) + (full - measured) x median s/step",
        "configs": summary,
        "finite": all(entry["finite"] for entry in summary.values()),
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    for close in args.close:
        close()
    return 0 if result["finite"] else 1


def _devices(given: str | None, device: str) -> list[str]:
    """--devices as a list: all visible GPUs by default (when 2+), nothing on CPU unless given."""
    import torch

    if given is None:
        count = torch.cuda.device_count() if device == "cuda" else 0
        return [f"cuda:{i}" for i in range(count)] if count > 1 else []
    if given.strip().lower() == "none":
        return []
    return [d.strip() for d in given.split(",") if d.strip()]


if __name__ == "__main__":
    sys.exit(main())
