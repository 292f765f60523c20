"""`veriframe generate`: text/image/video to video.

Local mode (this module's `generate_local`) loads the model in-process: for development. The service
(`--server`, added by the service) is the product path, where every video is screened, watermarked,
signed and audited.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from veriframe.service.cli import connection
from veriframe.service.cli import engine_flags as flags
from veriframe.service.cli import generate_options as opt
from veriframe.service.cli.generate_options import DEFAULT_I2V_MODEL, DEFAULT_T2V_MODEL, TINY_ALIAS

if TYPE_CHECKING:
    from veriframe.service.engine import GeneratedVideo, GenerationParams

# Inputs for i2v/v2v: bigger than any CogVideoX size (the engine checks the exact limits).
MAX_INPUT_PIXELS = 4096 * 2160
MAX_INPUT_FRAMES = 161


@dataclass
class LocalOptions:
    """How to run the model in this process."""

    model: str | None = None
    device: str | None = None
    dtype: str | None = None
    offload: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    engine: dict[str, Any] | None = None  # more EngineOptions fields (cli/engine_flags.py)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def resolve_model(model: str | None, mode: str) -> str:
    """The model to load: the option/env value, `tiny` (built and cached on demand), or the default."""
    model = model or os.environ.get("VERIFRAME_MODEL")
    if model == TINY_ALIAS:
        from veriframe.service.engine.tiny import ensure_tiny_model

        cache = Path(os.environ.get("VERIFRAME_CACHE_DIR") or Path.home() / ".cache" / "veriframe")
        return str(ensure_tiny_model(cache) / ("i2v" if mode == "i2v" else "t2v"))
    return model or (DEFAULT_I2V_MODEL if mode == "i2v" else DEFAULT_T2V_MODEL)


def generate_local(
    params: GenerationParams, options: LocalOptions, *, progress: bool = True
) -> GeneratedVideo:
    """Load the model and generate, with a progress bar; Ctrl-C cancels between steps.

    Returns the engine's GeneratedVideo. Raises the engine's errors (InvalidParameter, Cancelled,
    ModelLoadError) for the caller to report.
    """
    from rich.console import Console

    from veriframe.service.engine import EngineOptions
    from veriframe.service.engine.parallel import load_engine

    console = Console(stderr=True)
    model = resolve_model(options.model, params.mode)
    engine_options = EngineOptions.from_mapping(
        {
            "device": options.device,
            "dtype": options.dtype,
            "offload": options.offload,
            "vae_tiling": options.vae_tiling,
            "vae_slicing": options.vae_slicing,
            **(options.engine or {}),
        }
    )
    with console.status(f"loading {model} ..."):
        engine = load_engine(model, engine_options)
    try:
        engine.validate(params)  # fail before the progress bar appears
        return _run_with_progress(engine, params, console, progress)
    finally:
        if hasattr(engine, "close"):  # a multi-device engine: stop its follower processes
            engine.close()


def _run_with_progress(engine: Any, params: GenerationParams, console: Any, progress: bool) -> GeneratedVideo:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    stop = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop.set()
        console.print("[yellow]cancelling after this step (Ctrl-C again to abort)[/yellow]")

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not progress) as bar:
        task = bar.add_task("denoising", total=None)

        def on_step(done: int, total: int) -> None:
            bar.update(
                task, completed=done, total=total, description="decoding" if done == total else "denoising"
            )

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            return engine.generate(params, on_step=on_step, should_cancel=stop.is_set)
        finally:
            signal.signal(signal.SIGINT, previous)


_ENGINE_FLAGS = (
    "compile", "attention", "fuse_qkv", "vae_channels_last", "fp8", "cache", "devices", "parallel",
    "sequence_parallel",
)

# Options that only mean something when the model runs here: refused with --server, not ignored.
LOCAL_ONLY = {
    "model": "--model",
    "device": "--device",
    "dtype": "--dtype",
    "offload": "--offload",
    "vae_tiling": "--vae-tiling",
    "vae_slicing": "--vae-slicing",
    "compile": "--compile",
    "attention": "--attention",
    "fuse_qkv": "--fuse-qkv",
    "vae_channels_last": "--vae-channels-last",
    "fp8": "--fp8",
    "cache": "--cache",
    "devices": "--devices",
    "parallel": "--parallel",
    "sequence_parallel": "--sequence-parallel",
    "crf": "--crf",
    "frames_dir": "--frames-dir",
    "keys": "--keys",
}


def _local_only_given(ctx: typer.Context) -> list[str]:
    """The local-only options given on the command line (or by environment), in LOCAL_ONLY's order."""
    given = []
    for name, flag in LOCAL_ONLY.items():
        source = ctx.get_parameter_source(name)
        # By name: typer may bring its own copy of click's ParameterSource enum.
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            given.append(flag)
    return given


def generate(
    ctx: typer.Context,
    prompt: opt.Prompt,
    output: opt.Output = None,
    model: opt.Model = None,
    image: opt.Image = None,
    video: opt.Video = None,
    strength: opt.Strength = None,
    seed: opt.Seed = None,
    steps: opt.Steps = None,
    guidance: opt.Guidance = None,
    frames: opt.Frames = None,
    fps: opt.Fps = None,
    width: opt.Width = None,
    height: opt.Height = None,
    negative_prompt: opt.NegativePrompt = "",
    device: opt.Device = None,
    dtype: opt.Dtype = None,
    offload: opt.Offload = "none",
    vae_tiling: opt.VaeTiling = False,
    vae_slicing: opt.VaeSlicing = False,
    compile: str | None = flags.COMPILE,
    attention: str | None = flags.ATTENTION,
    fuse_qkv: bool | None = flags.FUSE_QKV,
    vae_channels_last: bool | None = flags.VAE_CHANNELS_LAST,
    fp8: bool = flags.FP8,
    cache: str | None = flags.CACHE,
    devices: str | None = flags.DEVICES,
    parallel: str | None = flags.PARALLEL,
    sequence_parallel: str | None = flags.SEQUENCE_PARALLEL,
    crf: opt.Crf = 17,
    frames_dir: opt.FramesDir = None,
    keys: opt.Keys = None,
    server: str | None = connection.server(
        "Generate through the service at host:port (screened, watermarked, signed, audited)."
    ),
    api_key: str | None = connection.api_key("API key for --server."),
    tls: bool = connection.tls("--server: "),
    root_cert: Path | None = connection.tls_ca("--server: "),
    client_cert: Path | None = connection.tls_cert("--server: "),
    client_key: Path | None = connection.tls_key("--server: "),
    return_frames: opt.ReturnFrames = False,
    no_wait: opt.NoWait = False,
    as_json: opt.AsJson = False,
    timeout: opt.Timeout = None,
    callback_url: opt.CallbackUrl = None,
) -> None:
    """Generate a video on this machine (development only), or through the service with --server.

    Without --keys the MP4 is unsigned and unwatermarked: for development only, never for release.
    The service (`veriframe serve`) screens prompts, watermarks, signs and audits everything it releases.
    With --server the model, device and encoding are the server's: --model, --keys, --frames-dir,
    --device, --dtype, --offload, --crf and --vae-* are refused (exit 2).
    With --server the job id is printed as soon as the job is accepted; a job held for human review
    says so, and how to follow it (`veriframe job wait JOB`); --no-wait exits there.
    Exit codes: 0 done (--no-wait: accepted); 1 cancelled, or (--server) blocked, rejected, failed,
    rate limited or not verified; 2 invalid input or usage, or (--server) the server unreachable or
    failing; 3 (--server) the key was refused (unauthenticated or permission denied), as for
    veriframe-admin; 4 (--server --timeout) the job had not ended (it goes on).
    """
    if server:  # the product path: the service through the SDK (no torch in this process)
        _generate_remote(ctx)
    else:
        _generate_here(ctx.params)


def _generate_remote(ctx: typer.Context) -> None:
    from veriframe.service.client.remote_generate import run_remote

    local_only = _local_only_given(ctx)
    if local_only:
        raise _fail(
            f"{', '.join(local_only)}: only for local generation; with --server the server's model and "
            "settings are used (--return-frames downloads the signed frames)"
        )
    p = ctx.params
    run_remote(
        server=p["server"], api_key=p["api_key"], prompt=p["prompt"], output=p["output"] or "./",
        tls=p["tls"],
        root_cert=p["root_cert"], client_cert=p["client_cert"], client_key=p["client_key"],
        negative_prompt=p["negative_prompt"], image=p["image"], video=p["video"], strength=p["strength"],
        seed=p["seed"], num_inference_steps=p["steps"], guidance_scale=p["guidance"],
        num_frames=p["frames"],
        fps=p["fps"], width=p["width"], height=p["height"], return_frames=p["return_frames"] or None,
        as_json=p["as_json"], wait=not p["no_wait"], timeout=p["timeout"], callback_url=p["callback_url"],
    )


def _generate_here(p: dict[str, Any]) -> None:
    """Local generation (development): check the options, generate, write (and mark with --keys)."""
    from veriframe.service.engine import Cancelled, InvalidParameter, ModelLoadError

    if p["no_wait"] or p["as_json"] or p["timeout"] is not None or p["callback_url"]:
        raise _fail("--no-wait, --json, --timeout and --callback-url are for the service: add --server")
    if p["output"] is None:
        raise _fail("-o/--output FILE.mp4 is required for local generation")
    p = {**p, "output": Path(p["output"])}
    if p["image"] is not None and p["video"] is not None:
        raise _fail("use either --image (image-to-video) or --video (video-to-video), not both")
    if p["offload"] not in ("none", "model", "sequential"):
        raise _fail(f"--offload must be none, model or sequential, got {p['offload']!r}")
    if not 0 <= p["crf"] <= 51:
        raise _fail(f"--crf must be in 0..51, got {p['crf']}")
    options = LocalOptions(
        model=p["model"], device=p["device"], dtype=p["dtype"], offload=p["offload"],
        vae_tiling=p["vae_tiling"], vae_slicing=p["vae_slicing"],
        engine=flags.engine_overrides(**{name: p[name] for name in _ENGINE_FLAGS}),
    )
    started = time.monotonic()
    try:
        result = generate_local(_local_params(p), options)
    except InvalidParameter as error:
        raise _fail(f"invalid {error.field}: {error.message}") from error
    except (ModelLoadError, ValueError) as error:
        raise _fail(str(error)) from error
    except Cancelled as error:
        raise _fail(str(error), code=1) from error
    seconds = time.monotonic() - started
    note = _write(result, p)
    t, h, w, _ = result.frames.shape
    typer.echo(
        f"{p['output']}: {t} frames {w}x{h} at {result.fps} fps, seed {result.seed}, "
        f"{result.model.name} ({seconds:.1f} s); {note}"
    )


def _local_params(p: dict[str, Any]) -> GenerationParams:
    """The engine's parameters from the command line, with the input image or video decoded."""
    from veriframe.provenance.media import MediaError, decode_video, read_image
    from veriframe.service.engine import GenerationParams

    image, video = p["image"], p["video"]
    try:
        image_array = read_image(image, max_pixels=MAX_INPUT_PIXELS) if image is not None else None
        video_array = (
            decode_video(video, max_frames=MAX_INPUT_FRAMES, max_pixels=MAX_INPUT_PIXELS)[0]
            if video is not None
            else None
        )
    except MediaError as error:
        raise _fail(str(error)) from error
    return GenerationParams(
        prompt=p["prompt"],
        negative_prompt=p["negative_prompt"],
        mode="i2v" if image is not None else "v2v" if video is not None else "t2v",
        image=image_array,
        video=video_array,
        strength=p["strength"],
        seed=p["seed"],
        num_inference_steps=p["steps"],
        guidance_scale=p["guidance"],
        num_frames=p["frames"],
        fps=p["fps"],
        width=p["width"],
        height=p["height"],
    )


def _write(result: GeneratedVideo, p: dict[str, Any]) -> str:
    """Write the MP4 (and PNGs): watermarked and signed with --keys; returns what was written."""
    from veriframe.provenance.media import encode_mp4, write_pngs

    output, frames_dir = p["output"], p["frames_dir"]
    output.parent.mkdir(parents=True, exist_ok=True)
    if p["keys"] is not None:
        _mark(result, p["prompt"], output, p["keys"], frames_dir, p["crf"], source=p["image"] or p["video"])
        return "watermarked and signed (not recorded in any audit ledger)"
    encode_mp4(result.frames, result.fps, output, crf=p["crf"])
    if frames_dir is not None:
        write_pngs(result.frames, frames_dir)
    return "UNSIGNED and UNWATERMARKED: development only"


def _mark(
    result: GeneratedVideo, prompt: str, output: Path, keys: Path, frames_dir: Path | None, crf: int,
    *, source: Path | None = None,
) -> None:
    """Watermark + encode + sign exactly as the service does (provenance.mark); an i2v/v2v ``source``
    becomes the manifest's input ingredient."""
    from veriframe.provenance.ids import new_provenance_id
    from veriframe.provenance.keys import load_keys_dir
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import describe_input, mark_video
    from veriframe.provenance.prompt_commitment import commit_prompt, prompt_key_for

    try:
        signing_keys = load_keys_dir(keys)
        commitment = commit_prompt(prompt, prompt_key_for(keys))
    except (OSError, ValueError) as error:
        raise _fail(f"--keys {keys}: {error}") from error
    info = ManifestInfo(
        provenance_id=new_provenance_id(),
        model_name=result.model.name,
        model_version=result.model.version,
        audit_ref=f"veriframe:local:{uuid.uuid4()}",
        params=result.params,
        prompt_commitment=commitment,
        input=describe_input(source) if source is not None else None,
    )
    mark_video(result.frames, result.fps, output, info, signing_keys, frames_dir=frames_dir, crf=crf)
