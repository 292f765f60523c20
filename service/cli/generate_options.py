"""`veriframe generate`'s own options, one alias each (typer reads the `Annotated` metadata), so the
command's signature in generate.py reads as a list of names.

The engine's speed flags (cli/engine_flags.py, shared with `veriframe serve`) and the connection
options (cli/connection.py, shared with the other client CLIs) are defined where they are shared.
Defaults are the parameters' defaults in generate.py, as `Annotated` requires.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_T2V_MODEL = "THUDM/CogVideoX-5b"
DEFAULT_I2V_MODEL = "THUDM/CogVideoX-5b-I2V"
TINY_ALIAS = "tiny"

# What to generate.
Prompt = Annotated[str, typer.Argument(help="What the video should show (at most 226 T5 tokens).")]
Output = Annotated[str | None, typer.Option(
    "-o",
    "--output",
    help="MP4 file to write (required locally); with --server also a directory (existing, or ending "
    "with /) for the server's file name (default: the current directory).",
)]
Model = Annotated[str | None, typer.Option(
    "--model",
    help=f"Hugging Face id or local checkpoint directory, or `{TINY_ALIAS}` for the tiny "
    f"test model (env VERIFRAME_MODEL; default {DEFAULT_T2V_MODEL}, {DEFAULT_I2V_MODEL} with --image)",
)]
Image = Annotated[Path | None, typer.Option("--image", help="Image-to-video: first frame (PNG/JPEG/WebP).")]
Video = Annotated[Path | None, typer.Option("--video", help="Video-to-video: the input video (frames kept).")]
Strength = Annotated[float | None, typer.Option(
    "--strength", help="Video-to-video: how much to change the input, (0, 1] (default 0.8)."
)]

# The generation parameters (service/params.py has the limits).
Seed = Annotated[int | None, typer.Option(
    "--seed", min=0, help="Same seed, same video on the same device (default: random, printed)."
)]
Steps = Annotated[int | None, typer.Option(
    "--num-inference-steps", "--steps", min=1, help="Denoising steps (model default, 50)."
)]
Guidance = Annotated[float | None, typer.Option(
    "--guidance-scale", "--guidance", min=0.0, help="Classifier-free guidance scale (6)."
)]
Frames = Annotated[int | None, typer.Option(
    "--num-frames", "--frames", min=1, help="Frame count: 8N+1 for CogVideoX 1.0 (49), 16N+1 for 1.5 (81)."
)]
Fps = Annotated[int | None, typer.Option(
    "--fps", min=1, help="Frames per second of the MP4 (8; 16 for 1.5)."
)]
Width = Annotated[int | None, typer.Option(
    "--width", min=1, help="Width, a multiple of 16 (720; 1360 for 1.5)."
)]
Height = Annotated[int | None, typer.Option(
    "--height", min=1, help="Height, a multiple of 16 (480; 768 for 1.5)."
)]
NegativePrompt = Annotated[str, typer.Option("--negative-prompt", help="What to steer away from.")]

# Local generation only (refused with --server: generate.LOCAL_ONLY).
Device = Annotated[str | None, typer.Option("--device", help="cuda, cuda:1, cpu (cuda when present).")]
Dtype = Annotated[str | None, typer.Option(
    "--dtype", help="bfloat16, float16, float32 (default: bf16 on CUDA, fp16 for 2b; fp32 on CPU)."
)]
Offload = Annotated[str, typer.Option(
    "--offload",
    help="Save GPU memory: none, model (one component on the GPU at a time), sequential (layer by layer; "
    "slowest).",
)]
VaeTiling = Annotated[bool, typer.Option("--vae-tiling", help="Decode in spatial tiles (less GPU memory).")]
VaeSlicing = Annotated[bool, typer.Option("--vae-slicing", help="Decode one video of a batch at a time.")]
Crf = Annotated[int, typer.Option(
    "--crf", help="H.264 quality, 0-51, lower is better (17: visually lossless)."
)]
FramesDir = Annotated[Path | None, typer.Option("--frames-dir", help="Also write every frame as a PNG here.")]
Keys = Annotated[Path | None, typer.Option(
    "--keys",
    help="Signing keys directory (`veriframe keys init`): watermark and C2PA-sign the output as the "
    "service does (no ledger).",
)]

# Through the service only (refused without --server).
ReturnFrames = Annotated[bool, typer.Option(
    "--return-frames", help="--server: also download every signed frame (a zip beside -o)."
)]
NoWait = Annotated[bool, typer.Option(
    "--no-wait", help="--server: print the job id and state and exit (follow: veriframe job)."
)]
AsJson = Annotated[bool, typer.Option(
    "--json", help="--server: one JSON object on stdout (job_id, state, path, verification...)."
)]
Timeout = Annotated[float | None, typer.Option(
    "--timeout", min=0.1, help="--server: stop following after this many seconds (exit 4)."
)]
CallbackUrl = Annotated[str | None, typer.Option(
    "--callback-url", help="--server: POST signed webhooks (held, rejected, succeeded, failed)."
)]
