"""The engine's speed options as command-line flags, shared by `veriframe serve` and `veriframe generate`.

Each flag is one field of `veriframe.service.engine.EngineOptions` (docs/engine.md has the table);
an absent flag keeps the settings' value (serve) or the device's default (generate).
"""

from __future__ import annotations

from typing import Any

import typer

COMPILE = typer.Option(
    None, "--compile", help="torch.compile: none, blocks (regional), full (CUDA: blocks)."
)
ATTENTION = typer.Option(
    None, "--attention", help="Attention backend: sdpa, cudnn, flash, efficient, math, flash-attn, fa3, sage."
)
FUSE_QKV = typer.Option(None, "--fuse-qkv/--no-fuse-qkv", help="Fuse Q/K/V projections (default on CUDA).")
VAE_CHANNELS_LAST = typer.Option(
    None, "--vae-channels-last/--no-vae-channels-last", help="VAE convs channels-last-3d (default on CUDA)."
)
FP8 = typer.Option(False, "--fp8", help="LOSSY, labelled: torchao fp8 matmuls (GPU compute capability 8.9+).")
CACHE = typer.Option(
    None, "--cache", help="LOSSY, labelled step caching: faster, pab, fbc, taylorseer, mag."
)
DEVICES = typer.Option(
    None, "--devices", help="One video on several devices: cuda:0,cuda:1 (CFG parallel on 2, see --parallel)."
)
PARALLEL = typer.Option(
    None, "--parallel", help="How --devices split a video: cfg, sequence, cfg+sequence, xdit (xdit extra)."
)
SEQUENCE_PARALLEL = typer.Option(
    None, "--sequence-parallel", help="The sequence split's attention: ulysses (default) or ring (CUDA)."
)
WARMUP = typer.Option(None, "--warmup", help="Shapes to compile at start, WxHxF[,WxHxF...] (serve).")


def engine_overrides(**flags: Any) -> dict[str, Any]:
    """The flags that were given (None and an unset --fp8 mean "not given")."""
    out = {name: value for name, value in flags.items() if value is not None and value is not False}
    for name in ("devices", "warmup"):
        if name in out:
            out[name] = [part.strip() for part in out[name].split(",") if part.strip()]
    return out
