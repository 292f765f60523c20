"""`veriframe model ...`: build the tiny test checkpoint, describe a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    help="CogVideoX checkpoints: build the tiny test model, describe a model.", no_args_is_help=True
)


@app.command("build-tiny")
def build_tiny(
    directory: Path = typer.Argument(..., help="Where to write the checkpoints (DIR/t2v and DIR/i2v)."),
) -> None:
    """Build the tiny random-weight CogVideoX checkpoints (real diffusers classes, no download).

    DIR/t2v runs text-to-video and video-to-video, DIR/i2v image-to-video; pass either to
    `veriframe generate --model`. The same build always gives the same weights.
    """
    from veriframe.service.engine.tiny import build_tiny_model

    root = build_tiny_model(directory)
    typer.echo(f"text-to-video / video-to-video: {root / 't2v'}")
    typer.echo(f"image-to-video:                 {root / 'i2v'}")


@app.command("info")
def info(
    model: str = typer.Argument(..., help="Hugging Face id (e.g. THUDM/CogVideoX-5b) or local directory."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Describe a checkpoint from its configs (no weights loaded): family, task, defaults, components."""
    from veriframe.service.engine import ModelLoadError, inspect_model

    try:
        described = inspect_model(model)
    except ModelLoadError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    if as_json:
        typer.echo(json.dumps(described.to_dict(), indent=2))
        return
    d = described.defaults
    typer.echo(f"model:      {described.name}")
    typer.echo(f"version:    {described.version}")
    typer.echo(f"path:       {described.path}")
    typer.echo(
        f"family:     CogVideoX {described.family} ({described.task}; modes: {', '.join(described.modes)})"
    )
    typer.echo(f"pipeline:   {described.pipeline}, scheduler {described.scheduler}")
    typer.echo(f"dtype:      {described.dtype}")
    typer.echo(
        f"defaults:   {d['width']}x{d['height']}, {d['num_frames']} frames ({d['frames_rule']}) "
        f"at {d['fps']} fps, {d['num_inference_steps']} steps, guidance {d['guidance_scale']:g}"
    )
    typer.echo(f"prompt:     at most {d['max_prompt_tokens']} T5 tokens")
    typer.echo("components: " + ", ".join(f"{k}={v}" for k, v in described.components.items()))


@app.command("calibrate-magcache")
def calibrate_magcache(
    model: str = typer.Argument(..., help="Local checkpoint directory or Hugging Face id (real weights)."),
    prompt: str = typer.Option(
        "A golden retriever running on a beach at sunset, cinematic", "--prompt", help="Calibration prompt."
    ),
    steps: int = typer.Option(None, "--steps", help="Steps you serve (default: the model's, 50)."),
    width: int = typer.Option(None, "--width"),
    height: int = typer.Option(None, "--height"),
    frames: int = typer.Option(None, "--frames"),
    guidance: float = typer.Option(None, "--guidance"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option(None, "--device", help="cuda, cuda:1, cpu (cuda when present)."),
    dtype: str = typer.Option(None, "--dtype", help="bfloat16, float16, float32."),
    out: Path = typer.Option(
        None, "--out", help="Where to write the ratios (default: veriframe-magcache.json beside the model)."
    ),
) -> None:
    """Record MagCache's magnitude ratios for MODEL from one full run (no step skipped).

    The file beside a local checkpoint is read by the engine when `cache=mag` is set without
    `mag_ratios`; the command also prints the settings lines. Exit 2 on a bad model or parameter.
    """
    from veriframe.service.engine import (
        Engine,
        EngineOptions,
        GenerationParams,
        InvalidParameter,
        ModelLoadError,
        magcache,
    )
    from veriframe.service.engine.options import OptionError

    if out is None and not Path(model).is_dir():
        typer.echo("error: --out FILE is needed for a hub model (its cache is not ours to write)", err=True)
        raise typer.Exit(2)
    try:
        engine = Engine.load(model, options=EngineOptions(device=device, dtype=dtype))
        params = GenerationParams(
            prompt=prompt, seed=seed, num_inference_steps=steps, width=width, height=height,
            num_frames=frames, guidance_scale=guidance,
        )
        record = magcache.calibrate(engine, params)
    except InvalidParameter as error:
        typer.echo(f"error: invalid {error.field}: {error.message}", err=True)
        raise typer.Exit(2) from None
    except (ModelLoadError, OptionError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    path = magcache.write(record, out or Path(model) / magcache.CALIBRATION_FILE)
    typer.echo(f"{len(record['mag_ratios'])} ratios for {record['mag_steps']} steps written to {path}")
    typer.echo(f"settings: VERIFRAME_MAG_RATIOS='{json.dumps(record['mag_ratios'])}' (cache=mag)")
