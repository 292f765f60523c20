"""The generation engine: CogVideoX text/image/video-to-video with diffusers (the only diffusers user).

Read top to bottom:
1. families: each CogVideoX generation's defaults and limits, from its model card;
2. data types: GenerationParams in, ResolvedParams (validated) and GeneratedVideo out;
3. Engine.load: find the checkpoint (local dir or HF cache), detect its family and task from its
   configs, pick device/dtype, load the pipeline, apply memory options;
4. Engine.validate: every parameter against the loaded model, errors name the field;
5. Engine.generate: run the pipeline with per-step progress and cooperative cancel, decode, uint8.

torch and diffusers are imported inside the functions that need them, so importing this module
(for GenerationParams, InvalidParameter ...) stays cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from veriframe.service import params as schema
from veriframe.service.engine.options import DTYPES, EngineOptions, OptionError
from veriframe.service.params import MAX_SEED, MAX_SIDE

Mode = Literal["t2v", "i2v", "v2v"]

PROMPTS = ("prompt", "negative_prompt")
# Parameters whose default is the family's (the seed's default is a fresh random one).
_DEFAULTED = ("num_inference_steps", "guidance_scale", "fps", "width", "height")


class InvalidParameter(ValueError):
    """A generation parameter the loaded model cannot take; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Cancelled(Exception):
    """The caller's ``should_cancel`` asked to stop; raised between denoising steps."""

    def __init__(self, steps_done: int, steps_total: int) -> None:
        super().__init__(f"generation cancelled after {steps_done} of {steps_total} steps")
        self.steps_done = steps_done
        self.steps_total = steps_total


class NonFiniteOutput(RuntimeError):
    """The pipeline produced NaN/Inf (e.g. fp16 overflow, a broken kernel): there is no video."""


class ModelLoadError(RuntimeError):
    """The model could not be found or is not a CogVideoX checkpoint this engine can run."""


# ----------------------------------------------------------------------------------- 1. families


@dataclass(frozen=True)
class Family:
    """Defaults and limits of one CogVideoX generation (values from the official model cards)."""

    name: str
    width: int
    height: int
    num_frames: int
    fps: int
    frame_multiple: int  # frames = frame_multiple * N + 1
    max_frames: int
    max_prompt_tokens: int
    num_inference_steps: int = 50
    guidance_scale: float = 6.0
    strength: float = 0.8
    min_side: int = 256

    def check_size(self, width: int, height: int) -> str | None:
        """Why ``width`` x ``height`` is not allowed for this family (None when it is)."""
        if self.name == "1.5":
            # CogVideoX1.5 card: Min(W, H) = 768, 768 <= Max(W, H) <= 1360, Max(W, H) % 16 = 0.
            if min(width, height) != 768 or not 768 <= max(width, height) <= 1360:
                return "CogVideoX 1.5 needs the short side 768 and the long side 768..1360"
            return None
        if not (self.min_side <= width <= MAX_SIDE and self.min_side <= height <= MAX_SIDE):
            return f"each side must be {self.min_side}..{MAX_SIDE} pixels"
        return None


FAMILIES: dict[str, Family] = {
    # CogVideoX-2b / -5b / -5b-I2V: 720x480, 6 s at 8 fps = 49 frames (8N+1), 226 T5 tokens.
    "1.0": Family("1.0", 720, 480, 49, 8, frame_multiple=8, max_frames=49, max_prompt_tokens=226),
    # CogVideoX1.5-5B(-I2V): 1360x768, 5 s or 10 s at 16 fps = 81 or 161 frames (16N+1), 224 tokens.
    "1.5": Family("1.5", 1360, 768, 81, 16, frame_multiple=16, max_frames=161, max_prompt_tokens=224),
}


# -------------------------------------------------------------------------------- 2. data types


@dataclass
class GenerationParams(schema.Numbers):
    """One generation request: the schema's numeric parameters (``veriframe.service.params.Numbers``;
    ``None`` means "the model's default") plus the prompts, the mode and its decoded inputs."""

    prompt: str
    negative_prompt: str = ""
    mode: Mode = "t2v"
    image: np.ndarray | None = None  # i2v: (H, W, 3) uint8 RGB
    video: np.ndarray | None = None  # v2v: (T, H, W, 3) uint8 RGB


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded: recorded with every video (manifest, audit)."""

    name: str
    family: str
    version: str
    task: str  # "t2v" or "i2v": what the checkpoint was trained for
    modes: tuple[str, ...]
    defaults: dict[str, Any]
    pipeline: str
    scheduler: str
    device: str
    dtype: str
    path: str
    components: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["modes"] = list(self.modes)
        return data


@dataclass(frozen=True)
class ResolvedParams:
    """Validated parameters with every default filled in."""

    prompt: str
    negative_prompt: str
    mode: str
    seed: int
    num_inference_steps: int
    guidance_scale: float
    num_frames: int
    fps: int
    width: int
    height: int
    strength: float | None
    denoising_steps: int  # steps actually run (v2v runs int(steps * strength))
    prompt_tokens: int
    negative_prompt_tokens: int
    image: np.ndarray | None = field(default=None, repr=False)
    video: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters for manifests, the ledger and job records: no pixels, no prompt text."""
        skip = ("image", "video", "prompt", "negative_prompt")  # (asdict would deep-copy the pixels)
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        if self.image is not None:
            data["image_shape"] = list(self.image.shape)
        if self.video is not None:
            data["video_shape"] = list(self.video.shape)
        return data


@dataclass
class GeneratedVideo:
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: int
    seed: int
    params: dict[str, Any]
    model: ModelInfo


# ------------------------------------------------------------------------------------- 3. load


def _resolve_model_path(model: str, *, configs_only: bool = False) -> tuple[Path, str | None]:
    """A local directory, or a Hugging Face id looked up in the local cache first.

    Returns the directory and the hub commit (None for a plain local directory). With
    ``HF_HUB_OFFLINE=1`` nothing is downloaded; otherwise what is missing is downloaded once
    (only the JSON configs when ``configs_only``, which is all `model info` needs).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(_not_a_checkpoint(model, path))
        return path.resolve(), None
    if path.exists() or model.startswith((".", "/", "~")) or model.count("/") != 1:
        raise ModelLoadError(f"{model}: not a model directory nor a Hugging Face id (owner/name)")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    try:
        local = Path(snapshot_download(model, local_files_only=True))
        # A snapshot may hold only the configs (from `model info`): a load needs the weights too.
        if configs_only or _has_weights(local):
            return local, local.name if local.parent.name == "snapshots" else None
        problem = "is only partly in the Hugging Face cache (no weights)"
    except LocalEntryNotFoundError:
        problem = "is not in the Hugging Face cache"
    if offline:
        raise ModelLoadError(
            f"{model}: {problem} and HF_HUB_OFFLINE is set; download it first "
            f"(`hf download {model}`) or pass a local directory"
        )
    local = Path(snapshot_download(model, allow_patterns=["*.json"] if configs_only else None))
    return local, local.name if local.parent.name == "snapshots" else None


def _not_a_checkpoint(model: str, path: Path) -> str:
    """What to pass instead of a directory that is not a diffusers checkpoint (e.g. the parent folder
    that `veriframe model build-tiny DIR` fills with t2v/ and i2v/)."""
    inside = sorted(child.name for child in path.iterdir() if (child / "model_index.json").is_file())
    if not inside:
        return f"{model} is not a diffusers checkpoint (no model_index.json)"
    listed = " and ".join(f"{name}/" for name in inside)
    suggestion = "t2v" if "t2v" in inside else inside[0]
    return f"{model} has {listed}: pass --model {model.rstrip('/')}/{suggestion}"


def _has_weights(path: Path) -> bool:
    return all(
        any((path / part).glob("*.safetensors")) or any((path / part).glob("*.bin"))
        for part in ("text_encoder", "transformer", "vae")
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path}: cannot read ({exc})") from exc


def _classify(pipeline: str, transformer: dict[str, Any]) -> tuple[str, str]:
    """(family, task) of a CogVideoX checkpoint from its pipeline class name and transformer config."""
    if pipeline not in (
        "CogVideoXPipeline",
        "CogVideoXImageToVideoPipeline",
        "CogVideoXVideoToVideoPipeline",
    ):
        raise ModelLoadError(f"pipeline {pipeline or '(none)'} is not a CogVideoX T2V/I2V/V2V pipeline")
    # I2V concatenates the encoded image to the noisy latents: twice the input channels.
    in_channels = transformer.get("in_channels", 16)
    out_channels = transformer.get("out_channels") or in_channels
    task = "i2v" if in_channels == 2 * out_channels else "t2v"
    family = "1.5" if transformer.get("patch_size_t") else "1.0"
    return family, task


def _detect(path: Path) -> tuple[str, str, dict[str, Any]]:
    """(family, task, transformer config) from the checkpoint's configs, before loading weights."""
    index = _read_json(path / "model_index.json")
    transformer = _read_json(path / "transformer" / "config.json")
    try:
        family, task = _classify(index.get("_class_name", ""), transformer)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc
    return family, task, transformer


def _recommended_dtype(device: str, transformer_config: dict[str, Any]) -> str:
    if not device.startswith("cuda"):
        return "float32"  # CPU half precision is slow and poorly supported
    # The model cards: CogVideoX-2b (the only one without rotary embeddings) in fp16, the 5B models bf16.
    return "bfloat16" if transformer_config.get("use_rotary_positional_embeddings") else "float16"


def _describe(
    *,
    name: str,
    version: str,
    family_name: str,
    task: str,
    transformer_config: dict[str, Any],
    meta: dict[str, Any],
    pipeline: str,
    components: dict[str, str],
    path: str,
) -> tuple[Family, ModelInfo]:
    """The family limits (with any veriframe.json overrides) and the ModelInfo of a checkpoint."""
    family = FAMILIES[family_name]
    if "min_side" in meta:
        family = replace(family, min_side=int(meta["min_side"]))
    family = replace(family, **meta.get("defaults", {}))
    defaults = {
        "width": family.width,
        "height": family.height,
        "num_frames": family.num_frames,
        "fps": family.fps,
        "num_inference_steps": family.num_inference_steps,
        "guidance_scale": family.guidance_scale,
        "strength": family.strength,
        "max_prompt_tokens": min(
            family.max_prompt_tokens, transformer_config.get("max_text_seq_length", 226)
        ),
        "frames_rule": f"{family.frame_multiple}N+1, at most {family.max_frames}",
    }
    info = ModelInfo(
        name=name,
        family=family_name,
        version=version,
        task=task,
        modes=("i2v",) if task == "i2v" else ("t2v", "v2v") if family_name == "1.0" else ("t2v",),
        defaults=defaults,
        pipeline=pipeline,
        scheduler=components.get("scheduler", ""),
        device="",
        dtype=_recommended_dtype("cuda", transformer_config) + " on CUDA, float32 on CPU",
        path=path,
        components=components,
    )
    return family, info


def _inspect(model: str, *, configs_only: bool = False) -> tuple[Path, Family, dict[str, Any], ModelInfo]:
    """Find and describe a checkpoint from its configs alone (no weights are read).

    A ``veriframe.json`` beside ``model_index.json`` may name the model and override defaults (the tiny
    model uses it); everything else comes from the standard diffusers files.
    """
    path, commit = _resolve_model_path(model, configs_only=configs_only)
    family_name, task, transformer_config = _detect(path)
    meta_path = path / "veriframe.json"
    meta = _read_json(meta_path) if meta_path.is_file() else {}
    index = _read_json(path / "model_index.json")
    components = {
        name: spec[1] for name, spec in index.items() if not name.startswith("_") and isinstance(spec, list)
    }
    family, info = _describe(
        name=meta.get("name") or (model if commit else path.name),
        version=meta.get("version") or commit or _config_hash(path),
        family_name=family_name,
        task=task,
        transformer_config=transformer_config,
        meta=meta,
        pipeline=index["_class_name"],
        components=components,
        path=str(path),
    )
    return path, family, transformer_config, info


def inspect_model(model: str) -> ModelInfo:
    """What ``Engine.load(model)`` would load (family, task, defaults, components), without loading it."""
    return _inspect(model, configs_only=True)[3]


def _prepare(pipe: Any, options: EngineOptions) -> dict[str, Any]:
    """Apply ``options`` (resolved) in the order diffusers needs; returns facts for the load log.

    Fused QKV first (fp8 then quantises the fused weight), our attention processor, placement, fp8,
    the VAE layout, cache hooks, and compile last (it traces the hooks too).
    """
    from veriframe.service.engine import accel, attention, lossy

    facts: dict[str, Any] = {}
    if options.fuse_qkv:
        facts["unfused_bytes_freed"] = attention.fuse_qkv(pipe.transformer)
    attention.install(pipe.transformer, options.attention)
    if options.offload == "model":
        pipe.enable_model_cpu_offload(device=options.device)
    elif options.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=options.device)
    else:
        pipe.to(options.device)
    if options.fp8:
        lossy.apply_fp8(pipe.transformer)
    if options.vae_channels_last:
        facts["vae_channels_last_convs"] = accel.vae_channels_last(pipe.vae)
    if options.vae_tiling:
        pipe.vae.enable_tiling()
    if options.vae_slicing:
        pipe.vae.enable_slicing()
    lossy.apply_cache(pipe, options)
    facts["compiled_modules"] = accel.compile_transformer(pipe.transformer, options)
    return facts


def _options(options: EngineOptions | None, legacy: dict[str, Any]) -> EngineOptions:
    """``options`` updated with the keyword arguments given (``compile=True`` means regional)."""
    given = {k: v for k, v in legacy.items() if v is not None}
    if isinstance(given.get("compile"), bool):
        given["compile"] = "blocks" if given["compile"] else "none"
    try:
        return replace(options or EngineOptions(), **given).resolve()
    except OptionError:
        raise
    except ValueError as exc:  # EngineOptions' own checks
        raise OptionError(str(exc)) from exc


class Engine:
    """A loaded CogVideoX checkpoint. Generations run one at a time (pipelines keep per-call state)."""

    def __init__(self, pipe: Any, info: ModelInfo, family: Family, *, options: EngineOptions) -> None:
        self.pipe = pipe
        self.info = info
        self.family = family
        self.options = options
        self.load_facts: dict[str, Any] = {}
        self.in_group = False  # a rank of a CFG-parallel group (parallel.py)
        self._offload = options.offload
        self._lock = threading.Lock()  # pipelines keep per-call state: one generation at a time
        self._v2v: Any = None
        self._offloaded_on: Any = pipe if options.offload != "none" else None

    @property
    def attention(self) -> str | None:
        return self.options.attention

    @classmethod
    def for_validation(cls, model: str) -> Engine:
        """An engine that can only `validate`: the checkpoint's configs and tokenizer, no weights.

        API servers use it to refuse at Submit what the model cannot take (sizes, frame counts, the
        prompt's token limit) with exactly the checks a worker runs, before any GPU is involved.
        """
        from types import SimpleNamespace

        from transformers import AutoTokenizer

        path, family, transformer_config, info = _inspect(model, configs_only=True)
        try:
            tokenizer = AutoTokenizer.from_pretrained(path / "tokenizer")
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{model}: cannot read its tokenizer ({exc})") from exc
        # `validate` reads only the tokenizer and the transformer's config.
        pipe = SimpleNamespace(tokenizer=tokenizer, transformer=SimpleNamespace(config=transformer_config))
        return cls(pipe, info, family, options=EngineOptions(device="cpu"))

    @classmethod
    def load(
        cls,
        model: str,
        *,
        options: EngineOptions | None = None,
        share_from: Engine | None = None,
        device: str | None = None,
        dtype: str | None = None,
        offload: str | None = None,
        vae_tiling: bool | None = None,
        vae_slicing: bool | None = None,
        fuse_qkv: bool | None = None,
        compile: bool | str | None = None,
        attention: str | None = None,
    ) -> Engine:
        """Load a checkpoint by Hugging Face id (e.g. ``THUDM/CogVideoX-5b``) or local directory.

        ``options`` (EngineOptions) says how; the keyword arguments override single fields of it.
        ``device`` defaults to CUDA when present, else CPU; ``dtype`` to the model card's choice on
        CUDA (bf16, fp16 for 2b) and float32 on CPU. ``share_from``: an engine of the same family
        whose text encoder and VAE are reused when the weights are identical (image-to-video beside
        text-to-video, see sharing.py). Invalid options raise OptionError (a ValueError).
        """
        import torch
        from diffusers import CogVideoXImageToVideoPipeline, CogVideoXPipeline
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging

        from veriframe.service.engine.sharing import shared_components

        opts = _options(
            options,
            dict(
                device=device,
                dtype=dtype,
                offload=offload,
                vae_tiling=vae_tiling,
                vae_slicing=vae_slicing,
                fuse_qkv=fuse_qkv,
                compile=compile,
                attention=attention,
            ),
        )
        path, family, transformer_config, described = _inspect(model)
        dtype_name = DTYPES[(opts.dtype or _recommended_dtype(opts.device, transformer_config)).lower()]

        # Per-component loading bars are noise in a service log and under our own progress bar.
        diffusers_logging.disable_progress_bar()
        transformers_logging.disable_progress_bar()
        pipeline_class = CogVideoXImageToVideoPipeline if described.task == "i2v" else CogVideoXPipeline
        shared = shared_components(share_from, path, dtype_name) if share_from is not None else {}
        try:
            pipe = pipeline_class.from_pretrained(path, dtype=getattr(torch, dtype_name), **shared)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{model}: cannot load the pipeline ({exc})") from exc
        pipe.set_progress_bar_config(disable=True)

        opts = replace(opts, dtype=dtype_name)
        if opts.cache == "mag" and not opts.extra.get("mag_ratios"):
            from veriframe.service.engine import magcache  # ratios calibrated beside the checkpoint

            opts = replace(opts, extra={**opts.extra, **(magcache.read_beside(path) or {})})
        facts = _prepare(pipe, opts)  # shared modules are already prepared: a no-op for them
        info = replace(
            described,
            pipeline=type(pipe).__name__,
            scheduler=type(pipe.scheduler).__name__,
            device=opts.device,
            dtype=dtype_name,
            components={name: type(c).__name__ for name, c in pipe.components.items() if c is not None},
        )
        engine = cls(pipe, info, family, options=opts)
        engine.load_facts = {**facts, "shared_components": sorted(shared)}
        return engine

    @classmethod
    def from_pipeline(
        cls,
        pipe: Any,
        *,
        name: str,
        version: str,
        options: EngineOptions | None = None,
        device: str | None = None,
        offload: str | None = None,
        vae_tiling: bool | None = None,
        vae_slicing: bool | None = None,
        fuse_qkv: bool | None = None,
        compile: bool | str | None = None,
        attention: str | None = None,
    ) -> Engine:
        """Wrap a pipeline built in memory (benchmarks build random-weight models without a directory).

        The same preparation and validation as :meth:`load`; ``pipe`` is modified in place.
        """
        opts = _options(
            options,
            dict(
                device=device,
                offload=offload,
                vae_tiling=vae_tiling,
                vae_slicing=vae_slicing,
                fuse_qkv=fuse_qkv,
                compile=compile,
                attention=attention,
            ),
        )
        family_name, task = _classify(type(pipe).__name__, dict(pipe.transformer.config))
        components = {k: type(c).__name__ for k, c in pipe.components.items() if c is not None}
        family, info = _describe(
            name=name,
            version=version,
            family_name=family_name,
            task=task,
            transformer_config=dict(pipe.transformer.config),
            meta={},
            pipeline=type(pipe).__name__,
            components=components,
            path="",
        )
        pipe.set_progress_bar_config(disable=True)
        opts = replace(opts, dtype=str(pipe.transformer.dtype).removeprefix("torch."))
        facts = _prepare(pipe, opts)
        info = replace(info, device=opts.device, dtype=opts.dtype)
        engine = cls(pipe, info, family, options=opts)
        engine.load_facts = facts
        return engine

    def warm_up(self, shapes: tuple[tuple[int, int, int], ...] | None = None) -> list[dict[str, Any]]:
        """Compile and tune kernels for ``shapes`` (default: the configured warm-up shapes) now."""
        from veriframe.service.engine.accel import warm_up

        steps = int(self.options.extra.get("mag_steps", 2)) if self.options.cache == "mag" else 2
        shapes = self.options.warmup if shapes is None else shapes
        return warm_up(self, shapes, make_params=GenerationParams, steps=steps)

    # ------------------------------------------------------------------------------ 4. validate

    def count_tokens(self, text: str) -> int:
        """T5 tokens of ``text`` including the end-of-sequence token, as the pipeline encodes it."""
        return len(self.pipe.tokenizer(text, add_special_tokens=True, truncation=False).input_ids)

    def validate(self, params: GenerationParams) -> ResolvedParams:
        """Check every parameter against the schema (veriframe.service.params) and then this model's own
        limits; fill defaults. Raises InvalidParameter naming the field."""
        fam = self.family
        try:
            mode = schema.resolve_mode(
                params.mode,
                has_image=params.image is not None,
                has_video=params.video is not None,
                has_strength=params.strength is not None,
            )
            self._check_model_mode(mode)
            tokens = {name: self._prompt_tokens(name, getattr(params, name)) for name in PROMPTS}
            values = {
                "seed": secrets.randbelow(MAX_SEED + 1) if params.seed is None else params.seed,
                **{name: _default(params, fam, name) for name in _DEFAULTED},
            }
            schema.check_all(values)
            width, height = self._check_size(params, values["width"], values["height"])
            frames, strength, denoising_steps = self._frames_and_strength(
                params, mode, values["num_inference_steps"]
            )
        except schema.ParameterError as error:
            raise InvalidParameter(error.field, error.message) from None
        return ResolvedParams(
            prompt=params.prompt,
            negative_prompt=params.negative_prompt,
            mode=mode,
            seed=int(values["seed"]),
            num_inference_steps=int(values["num_inference_steps"]),
            guidance_scale=float(values["guidance_scale"]),
            num_frames=int(frames),
            fps=int(values["fps"]),
            width=int(width),
            height=int(height),
            strength=None if strength is None else float(strength),
            denoising_steps=denoising_steps,
            prompt_tokens=tokens["prompt"],
            negative_prompt_tokens=tokens["negative_prompt"],
            image=params.image,
            video=params.video,
        )

    def _check_model_mode(self, mode: str) -> None:
        if mode in self.info.modes:
            return
        why = (
            "this is an image-to-video checkpoint"
            if self.info.task == "i2v"
            else "needs an image-to-video checkpoint (e.g. THUDM/CogVideoX-5b-I2V)"
            if mode == "i2v"
            else "video-to-video is only available for CogVideoX 1.0 text-to-video checkpoints"
        )
        raise InvalidParameter("mode", f"{mode} is not available with {self.info.name}: {why}")

    def _prompt_tokens(self, name: str, text: Any) -> int:
        """T5 tokens of the prompt ``name``, at most the model's limit (never cut silently)."""
        if not isinstance(text, str):
            raise InvalidParameter(name, "must be a string")
        if name == "prompt" and not text.strip():
            raise InvalidParameter("prompt", "must be a non-empty string")
        if "\x00" in text:
            raise InvalidParameter(name, "contains a NUL character")
        limit = self.info.defaults["max_prompt_tokens"]
        tokens = self.count_tokens(text)
        if tokens > limit:
            raise InvalidParameter(
                name,
                f"is {tokens} T5 tokens; the model reads at most {limit} "
                "(shorten it, it is never cut silently)",
            )
        return tokens

    def _check_size(self, params: GenerationParams, width: int, height: int) -> tuple[int, int]:
        """The family's sizes and, for learned positional embeddings, the one size trained."""
        problem = self.family.check_size(width, height)
        if problem:
            raise InvalidParameter(
                "width" if params.width is not None or params.height is None else "height",
                f"{width}x{height}: {problem}",
            )
        config = self.pipe.transformer.config
        fixed = (config["sample_width"] * 8, config["sample_height"] * 8)
        if config.get("use_learned_positional_embeddings") and (width, height) != fixed:
            raise InvalidParameter(
                "width",
                f"{self.info.name} has learned positional embeddings and only "
                f"generates {fixed[0]}x{fixed[1]}",
            )
        return width, height

    def _frames_and_strength(
        self, params: GenerationParams, mode: str, steps: int
    ) -> tuple[int, float | None, int]:
        """(frames, strength, denoising steps): v2v keeps its video's frames and re-noises `strength`."""
        fam = self.family
        if mode == "i2v":
            _check_pixels("image", params.image, ndim=3)
        if mode != "v2v":
            frames = fam.num_frames if params.num_frames is None else params.num_frames
            _check_int("num_frames", frames, 1, fam.max_frames)
            if not _frames_ok(fam, frames):
                raise InvalidParameter(
                    "num_frames",
                    f"must be {fam.frame_multiple}N+1 (e.g. {fam.frame_multiple + 1}, {fam.num_frames}), "
                    f"at most {fam.max_frames}; got {frames}",
                )
            return frames, None, steps
        _check_pixels("video", params.video, ndim=4)
        strength = fam.strength if params.strength is None else params.strength
        schema.check("strength", strength)
        denoising_steps = min(int(steps * strength), steps)
        if denoising_steps < 1:
            raise InvalidParameter("strength", f"{strength} x {steps} steps rounds to no denoising step")
        frames = len(params.video)
        if params.num_frames is not None and params.num_frames != frames:
            raise InvalidParameter(
                "num_frames",
                f"v2v keeps the input video's {frames} frames; got num_frames={params.num_frames}",
            )
        if not _frames_ok(fam, frames):
            raise InvalidParameter(
                "video",
                f"has {frames} frames; the model takes {fam.frame_multiple}N+1 frames, "
                f"at most {fam.max_frames}",
            )
        return frames, strength, denoising_steps

    # ------------------------------------------------------------------------------ 5. generate

    def generate(
        self,
        params: GenerationParams,
        *,
        on_step: Callable[[int, int], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> GeneratedVideo:
        """Generate a video. ``on_step(done, total)`` runs after each denoising step; when
        ``should_cancel()`` turns true the remaining steps are skipped and Cancelled is raised."""
        import torch
        from PIL import Image

        run = self.validate(params)
        self._check_run(run)
        total = run.denoising_steps
        # (In a CFG-parallel group every rank must enter the loop: ParallelEngine checks this before.)
        if should_cancel is not None and should_cancel() and not self.in_group:
            raise Cancelled(0, total)
        with self._lock:
            pipe = self._pipeline_for(run.mode)
            done = 0
            cancelled = False

            def step_end(pipeline: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
                nonlocal done, cancelled
                done = step + 1
                if on_step is not None:
                    on_step(done, total)
                # Also after the last step: a cancelled video is never decoded nor returned.
                stop = should_cancel is not None and should_cancel()
                if self.in_group:  # rank 0 decides for every rank, so they leave the loop together
                    stop = _broadcast_flag(stop, pipeline._execution_device)
                if stop:
                    cancelled = True
                    pipeline._interrupt = True  # the pipeline skips the remaining steps
                return tensors

            # The generator lives on the device that draws the noise (the GPU even with CPU offload): the same
            # seed on the same device type and software gives the same video.
            generator = torch.Generator(device=pipe._execution_device).manual_seed(run.seed)
            kwargs: dict[str, Any] = dict(
                prompt=run.prompt,
                negative_prompt=run.negative_prompt,
                height=run.height,
                width=run.width,
                num_inference_steps=run.num_inference_steps,
                guidance_scale=run.guidance_scale,
                generator=generator,
                callback_on_step_end=step_end,
                max_sequence_length=pipe.transformer.config.max_text_seq_length,
                output_type="latent",  # we decode ourselves, so a cancelled run never pays for the VAE
                return_dict=False,
            )
            if run.mode == "v2v":
                kwargs.update(video=[Image.fromarray(f) for f in run.video], strength=run.strength)
            else:
                kwargs.update(num_frames=run.num_frames)
            if run.mode == "i2v":
                kwargs.update(image=Image.fromarray(run.image))

            with torch.inference_mode():
                (latents,) = pipe(**kwargs)
                if cancelled:
                    pipe.maybe_free_model_hooks()
                    raise Cancelled(done, total)
                frames = self._decode(pipe, latents, run.num_frames)
            pipe.maybe_free_model_hooks()
            if frames.shape != (run.num_frames, run.height, run.width, 3):
                raise RuntimeError(
                    f"pipeline returned frames of shape {frames.shape}, expected "
                    f"{(run.num_frames, run.height, run.width, 3)}"
                )
            # How it was made (exact or which approximations) travels with the video's params.
            params = {**run.to_dict(), "engine": self.options.report()}
            return GeneratedVideo(frames=frames, fps=run.fps, seed=run.seed, params=params, model=self.info)

    def _check_run(self, run: ResolvedParams) -> None:
        """What this engine's options cannot run (validate checks the model; this, the options)."""
        if self.options.cache == "mag":
            steps = int(self.options.extra.get("mag_steps", len(self.options.extra["mag_ratios"])))
            if run.denoising_steps != steps:
                raise InvalidParameter(
                    "num_inference_steps",
                    f"this server's MagCache is calibrated for {steps} steps; got {run.denoising_steps}",
                )

    def _pipeline_for(self, mode: str) -> Any:
        """The T2V checkpoint also serves V2V: same components, the video-to-video pipeline class."""
        pipe = self.pipe
        if mode == "v2v":
            if self._v2v is None:
                from diffusers import CogVideoXVideoToVideoPipeline

                self._v2v = CogVideoXVideoToVideoPipeline(**self.pipe.components)
                self._v2v.set_progress_bar_config(disable=True)
            pipe = self._v2v
        # Offload hooks belong to one pipeline object: move them when the other one runs.
        if self._offload != "none" and self._offloaded_on is not pipe:
            device = self.info.device
            if self._offload == "model":
                pipe.enable_model_cpu_offload(device=device)
            else:
                pipe.enable_sequential_cpu_offload(device=device)
            self._offloaded_on = pipe
        return pipe

    @staticmethod
    def _decode(pipe: Any, latents: Any, num_frames: int) -> np.ndarray:
        """Latents (B, F, C, h, w) to uint8 frames (T, H, W, 3), dropping 1.5's padding frames."""
        import torch

        patch_t = pipe.transformer.config.patch_size_t
        if patch_t:
            latent_frames = (num_frames - 1) // pipe.vae_scale_factor_temporal + 1
            latents = latents[:, (patch_t - latent_frames % patch_t) % patch_t :]
        video = pipe.decode_latents(latents)  # (B, C, T, H, W) in [-1, 1]
        # NaN would turn into black pixels after the uint8 cast: never release such a video.
        if not (torch.isfinite(latents).all() and torch.isfinite(video).all()):
            raise NonFiniteOutput("the model produced NaN or Inf values (numerical overflow)")
        video = (video[0].float() / 2 + 0.5).clamp(0, 1).mul(255).round().to(torch.uint8)
        return video.permute(1, 2, 3, 0).cpu().numpy()


# -------------------------------------------------------------------------------------- helpers


def _default(params: GenerationParams, family: Family, name: str) -> Any:
    value = getattr(params, name)
    return getattr(family, name) if value is None else value


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameter(name, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidParameter(name, f"must be in {low}..{high}, got {value}")


def _check_pixels(name: str, array: Any, *, ndim: int) -> None:
    shape = "(H, W, 3)" if ndim == 3 else "(T, H, W, 3)"
    if array is None:
        raise InvalidParameter(name, f"is required in {'i2v' if ndim == 3 else 'v2v'} mode")
    if (
        not isinstance(array, np.ndarray)
        or array.dtype != np.uint8
        or array.ndim != ndim
        or array.shape[-1] != 3
    ):
        got = f"{array.shape} {array.dtype}" if isinstance(array, np.ndarray) else type(array).__name__
        raise InvalidParameter(name, f"must be a uint8 RGB array {shape}, got {got}")
    if min(array.shape[-3:-1]) < 16:
        raise InvalidParameter(name, f"is {array.shape[-2]}x{array.shape[-3]} pixels, too small")


def _broadcast_flag(value: bool, device: Any) -> bool:
    import torch
    import torch.distributed as dist

    flag = torch.tensor([int(value)], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def _frames_ok(family: Family, frames: int) -> bool:
    return (
        frames >= family.frame_multiple + 1
        and frames <= family.max_frames
        and (frames - 1) % family.frame_multiple == 0
    )


def _config_hash(path: Path) -> str:
    """A version for a local directory with no other name: hash of its configs (not the weights)."""
    digest = hashlib.sha256()
    for config in [*sorted(path.glob("*/*.json")), path / "model_index.json"]:
        digest.update(config.relative_to(path).as_posix().encode())
        digest.update(config.read_bytes())
    return "config-" + digest.hexdigest()[:16]
