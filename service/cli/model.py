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
