"""A tiny, random-weight CogVideoX checkpoint for tests and the demo (no download, builds in seconds).

It is made from the real classes (`CogVideoXTransformer3DModel`, `AutoencoderKLCogVideoX`,
`T5EncoderModel`, `T5Tokenizer`, `CogVideoXDDIMScheduler`) and saved with `save_pretrained`, so it
loads through exactly the path a downloaded checkpoint takes (`Engine.load(dir)`). Two checkpoints
are written: ``DIR/t2v`` (text-to-video; also serves video-to-video) and ``DIR/i2v`` (image-to-video).

Shapes were chosen for speed on a 2-core CPU while keeping the real output geometry:
- the VAE keeps 8x spatial and 4x temporal compression (so 720x480x49 frames come out), but with one
  channel at full resolution and no extra ResNet layers: PyTorch's CPU conv3d costs about the same for
  1 channel as for 8 here, and everything else at full resolution scales with the channel count;
- the transformer keeps 1.0's sincos positional embeddings (any size divisible by 16 works) sized
  for 720x480x49 (``sample_*``), and the real 226-token text length, so the prompt limit is the
  real one; the T5 tokenizer has a small English word list plus single characters.
Weights come from a fixed torch seed: the same build code gives byte-identical weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

TINY_MODEL_NAME = "veriframe/tiny-cogvideox"
#: Written beside model_index.json: names the checkpoint and relaxes the minimum size for tests.
VERIFRAME_META = "veriframe.json"
_SEED = 20261124
#: Bumped when the build code changes what it writes (configs and versions are hashed anyway).
#: 2: each component has its own seed, so the T2V and I2V checkpoints share T5 and VAE weights.
_BUILD_REVISION = 2

# Common English and video-prompt words: prompts tokenise to about one piece per word, like real T5.
_WORD_TEXT = """
a an the and or but of in on at to from by with without into onto over under above below near
through across along around behind beside between inside outside up down out off is are was were
be been being it its this that these those there here he she they we you i his her their our your
my one two three four five many few some all every each no not very more most less slowly quickly
gently softly brightly dark light bright red orange yellow green blue purple pink white black gray
grey brown golden silver colorful small large big tiny huge tall short long wide old young new
beautiful calm quiet busy empty full wet dry warm cold hot sunny cloudy rainy snowy foggy windy
day night morning evening sunset sunrise dawn dusk sky sun moon star stars cloud clouds rain snow
wind fog storm light shadow shadows water sea ocean river lake wave waves beach sand shore
mountain mountains hill hills valley forest tree trees leaf leaves flower flowers grass field
garden park road street city town village house building buildings window door room kitchen
table chair bed car cars train boat ship plane bird birds dog cat horse fish cow sheep bear lion
man woman boy girl child children person people friends family crowd dancer chef artist
walks walking runs running flies flying swims swimming sits sitting stands standing dances
dancing plays playing looks looking moves moving falls falling rises rising turns turning
holds holding drinks drinking eats eating rides riding drives driving reads reading cooks
cooking smiles smiling laughs laughing sleeps sleeping waves flowing floating glowing shining
camera shot close view wide aerial slow motion scene background foreground cinematic realistic
detailed style video frame film photo painting animation cartoon lens focus depth soft sharp
coffee cup tea book guitar piano music fire candle lamp glass mirror paper ball kite balloon
"""
_WORDS = _WORD_TEXT.split()
_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"()-_/&%$#@+*=<>[]{}"

# The VAE: real class, real compression, as little work at full resolution as the class allows.
_VAE_CONFIG = {
    "down_block_types": ["CogVideoXDownBlock3D"] * 4,
    "up_block_types": ["CogVideoXUpBlock3D"] * 4,
    "block_out_channels": [1, 1, 1, 1],
    "latent_channels": 4,
    "layers_per_block": 0,
    "norm_num_groups": 1,
    "temporal_compression_ratio": 4,
    "sample_height": 480,
    "sample_width": 720,
}
_TRANSFORMER_CONFIG = {
    "num_attention_heads": 1,  # CPU attention cost grows with the head count at a fixed width
    "attention_head_dim": 16,
    "out_channels": 4,
    "time_embed_dim": 2,
    "text_embed_dim": 32,
    "num_layers": 1,
    "sample_width": 90,  # 720 / 8: the 1.0 family's default latent size
    "sample_height": 60,
    "sample_frames": 49,
    "patch_size": 2,
    "temporal_compression_ratio": 4,
    "max_text_seq_length": 226,
    "use_rotary_positional_embeddings": False,
    "use_learned_positional_embeddings": False,
}
_SCHEDULER_CONFIG = {
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "clip_sample": False,
    "set_alpha_to_one": True,
    "snr_shift_scale": 3.0,
    "timestep_spacing": "trailing",
}
_T5_CONFIG = {
    "d_model": 32,
    "d_kv": 8,
    "d_ff": 37,
    "num_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 8,
}


def _build_fingerprint() -> str:
    """Hash of everything that decides the weights: a changed build makes a new cache entry."""
    import diffusers
    import torch
    import transformers

    blob = json.dumps(
        [
            _SEED,
            _BUILD_REVISION,
            _WORDS,
            _CHARS,
            _VAE_CONFIG,
            _TRANSFORMER_CONFIG,
            _T5_CONFIG,
            _SCHEDULER_CONFIG,
            diffusers.__version__,
            transformers.__version__,
            torch.__version__,
        ],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _tokenizer():
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + word, -4.0) for word in dict.fromkeys(_WORDS)]
    pieces += [(char, -8.0) for char in _CHARS] + [("\u2581" + char, -8.0) for char in _CHARS]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def _build_one(out: Path, *, image_to_video: bool, tokenizer) -> None:
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    # One seed per component: T5 and the VAE come out identical in both checkpoints (as in the real
    # CogVideoX-5b / -5b-I2V pair), so the engine can share them.
    torch.manual_seed(_SEED)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(tokenizer), **_T5_CONFIG)).eval()
    latent = _VAE_CONFIG["latent_channels"]
    # I2V concatenates the image latents to the noise: twice the input channels.
    torch.manual_seed(_SEED + 1)
    transformer = CogVideoXTransformer3DModel(
        in_channels=2 * latent if image_to_video else latent, **_TRANSFORMER_CONFIG
    ).eval()
    torch.manual_seed(_SEED + 2)
    vae = AutoencoderKLCogVideoX(**_VAE_CONFIG).eval()
    # The scheduler settings of the published CogVideoX-2b checkpoint (v-prediction, zero terminal SNR).
    scheduler = CogVideoXDDIMScheduler(**_SCHEDULER_CONFIG)
    pipeline_class = CogVideoXImageToVideoPipeline if image_to_video else CogVideoXPipeline
    pipe = pipeline_class(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )
    pipe.save_pretrained(out, safe_serialization=True)


def build_tiny_model(dir: str | Path) -> Path:
    """Build the tiny T2V and I2V checkpoints under ``dir`` (``dir/t2v``, ``dir/i2v``); return ``dir``."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # "Writing model shards" bars for a 0.8 MB model
    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer()
    version = _build_fingerprint()
    for name, i2v in (("t2v", False), ("i2v", True)):
        _build_one(out / name, image_to_video=i2v, tokenizer=tokenizer)
        meta = {
            "name": f"{TINY_MODEL_NAME}-{name}",
            "version": version,
            # Random weights: more steps change nothing but the time taken.
            "defaults": {"num_inference_steps": 4},
            # Tests and demos use small frames; real 1.0 checkpoints keep the 256-pixel minimum.
            "min_side": 64,
        }
        (out / name / VERIFRAME_META).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def ensure_tiny_model(cache_dir: str | Path) -> Path:
    """Return a built tiny model under ``cache_dir``, building it once per build fingerprint.

    Safe against concurrent callers: each builds into a private directory and renames it into place.
    """
    cache = Path(cache_dir)
    target = cache / f"tiny-cogvideox-{_build_fingerprint()}"
    if (target / "i2v" / VERIFRAME_META).is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".build-{os.getpid()}-{os.urandom(4).hex()}"
    build_tiny_model(staging)
    try:
        staging.rename(target)
    except OSError:  # another process won the race: keep theirs
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
    return target


def tiny_configs(num_layers: int = _TRANSFORMER_CONFIG["num_layers"]) -> dict[str, Any]:
    """The tiny model's component configs (``num_layers`` > 1 for the block-caching hooks)."""
    latent = _VAE_CONFIG["latent_channels"]
    return {
        "transformer": {**_TRANSFORMER_CONFIG, "in_channels": latent, "num_layers": num_layers},
        "vae": dict(_VAE_CONFIG),
        "scheduler": dict(_SCHEDULER_CONFIG),
        "text_encoder": dict(_T5_CONFIG),
        "dtype": "float32",
    }


def build_random_pipeline(configs: dict[str, Any], device: str = "cpu", *, seed: int = 0) -> Any:
    """A CogVideoXPipeline with random weights from component ``configs``, built directly on ``device``.

    The benchmark builds the real 2b/5b architectures this way (no hub); tests build tiny variants.
    """
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    dtype = getattr(torch, configs["dtype"])
    torch.manual_seed(seed)
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
