"""The generation engine on the real tiny CogVideoX checkpoints (real diffusers pipelines, CPU)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from veriframe.service.engine import (
    Cancelled,
    Engine,
    GenerationParams,
    InvalidParameter,
    ModelLoadError,
    inspect_model,
)
from veriframe.service.engine.engine import FAMILIES, _detect, _frames_ok, _recommended_dtype
from veriframe.service.engine.tiny import TINY_MODEL_NAME, build_tiny_model

SMALL = {"width": 256, "height": 256, "num_frames": 9}  # the watermark library's minimum frame size


@pytest.fixture(scope="module")
def t2v(tiny_model_dir: Path) -> Engine:
    return Engine.load(str(tiny_model_dir))


@pytest.fixture(scope="module")
def i2v(tiny_i2v_model_dir: Path) -> Engine:
    return Engine.load(str(tiny_i2v_model_dir))


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------------------- the tiny model


def test_fresh_tiny_build_is_deterministic_and_loads_like_a_real_checkpoint(tmp_path, tiny_model_root):
    fresh = build_tiny_model(tmp_path / "tiny")
    # Same build code, same seed: byte-identical files to the cached build the other tests use.
    assert _tree_digest(fresh) == _tree_digest(tiny_model_root)
    # The standard diffusers layout: what `save_pretrained` writes and the hub serves.
    index = json.loads((fresh / "t2v" / "model_index.json").read_text())
    assert index["_class_name"] == "CogVideoXPipeline"
    assert {k for k in index if not k.startswith("_")} == {
        "scheduler",
        "text_encoder",
        "tokenizer",
        "transformer",
        "vae",
    }
    assert (
        json.loads((fresh / "i2v" / "model_index.json").read_text())["_class_name"]
        == "CogVideoXImageToVideoPipeline"
    )

    engine = Engine.load(str(fresh / "t2v"))
    info = engine.info
    assert (info.name, info.family, info.task, info.modes) == (
        f"{TINY_MODEL_NAME}-t2v",
        "1.0",
        "t2v",
        ("t2v", "v2v"),
    )
    assert info.pipeline == "CogVideoXPipeline"
    assert info.components == {
        "tokenizer": "T5Tokenizer",
        "text_encoder": "T5EncoderModel",
        "vae": "AutoencoderKLCogVideoX",
        "transformer": "CogVideoXTransformer3DModel",
        "scheduler": "CogVideoXDDIMScheduler",
    }
    assert (info.device, info.dtype) == ("cpu", "float32")
    assert info.defaults["width"] == 720 and info.defaults["height"] == 480
    assert info.defaults["num_frames"] == 49 and info.defaults["fps"] == 8
    assert info.defaults["max_prompt_tokens"] == 226
    assert json.loads(json.dumps(info.to_dict()))["family"] == "1.0"
    # The same description from the configs alone (what `veriframe model info` prints)
    described = inspect_model(str(fresh / "t2v"))
    assert (described.name, described.family, described.version) == (info.name, info.family, info.version)
    assert described.defaults == info.defaults and described.components == info.components
    i2v_info = Engine.load(str(fresh / "i2v")).info
    assert (i2v_info.task, i2v_info.modes, i2v_info.pipeline) == (
        "i2v",
        ("i2v",),
        "CogVideoXImageToVideoPipeline",
    )


def _fake_checkpoint(root: Path, pipeline: str, **transformer) -> Path:
    """Only the configs the detection reads (no weights): the published values for each model."""
    (root / "transformer").mkdir(parents=True)
    (root / "model_index.json").write_text(json.dumps({"_class_name": pipeline}))
    (root / "transformer" / "config.json").write_text(json.dumps(transformer))
    return root


@pytest.mark.parametrize(
    ("pipeline", "config", "family", "task", "cuda_dtype"),
    [  # CogVideoX-2b, -5b, -5b-I2V, 1.5-5B, 1.5-5B-I2V transformer configs (the fields that differ)
        ("CogVideoXPipeline", {"in_channels": 16, "out_channels": 16}, "1.0", "t2v", "float16"),
        (
            "CogVideoXPipeline",
            {"in_channels": 16, "out_channels": 16, "use_rotary_positional_embeddings": True},
            "1.0",
            "t2v",
            "bfloat16",
        ),
        (
            "CogVideoXImageToVideoPipeline",
            {
                "in_channels": 32,
                "out_channels": 16,
                "use_rotary_positional_embeddings": True,
                "use_learned_positional_embeddings": True,
            },
            "1.0",
            "i2v",
            "bfloat16",
        ),
        (
            "CogVideoXPipeline",
            {
                "in_channels": 16,
                "out_channels": 16,
                "patch_size_t": 2,
                "use_rotary_positional_embeddings": True,
            },
            "1.5",
            "t2v",
            "bfloat16",
        ),
        (
            "CogVideoXImageToVideoPipeline",
            {
                "in_channels": 32,
                "out_channels": 16,
                "patch_size_t": 2,
                "ofs_embed_dim": 512,
                "use_rotary_positional_embeddings": True,
            },
            "1.5",
            "i2v",
            "bfloat16",
        ),
    ],
)
def test_family_and_dtype_detection_from_configs(tmp_path, pipeline, config, family, task, cuda_dtype):
    path = _fake_checkpoint(tmp_path / "ckpt", pipeline, **config)
    detected_family, detected_task, transformer = _detect(path)
    assert (detected_family, detected_task) == (family, task)
    assert _recommended_dtype("cuda", transformer) == cuda_dtype
    assert _recommended_dtype("cpu", transformer) == "float32"


def test_load_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ModelLoadError, match="not a CogVideoX"):
        Engine.load(str(_fake_checkpoint(tmp_path / "sd", "StableDiffusionPipeline")))
    with pytest.raises(ModelLoadError, match="not a model directory"):
        Engine.load(str(tmp_path / "missing" / "dir"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        Engine.load("THUDM/CogVideoX-5b")
    with pytest.raises(ValueError, match="CPU offload only makes sense with a CUDA device"):
        Engine.load(str(tmp_path), device="cpu", offload="model")


def test_memory_options_reach_the_vae(tiny_model_dir):
    engine = Engine.load(str(tiny_model_dir), vae_tiling=True, vae_slicing=True)
    assert engine.pipe.vae.use_tiling and engine.pipe.vae.use_slicing


# ------------------------------------------------------------------------------------- modes


def test_text_to_video(t2v):
    steps: list[tuple[int, int]] = []
    video = t2v.generate(
        GenerationParams("a red kite over a green field", seed=7, **SMALL),
        on_step=lambda done, total: steps.append((done, total)),
    )
    assert video.frames.shape == (9, 256, 256, 3) and video.frames.dtype == np.uint8
    assert steps == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the tiny model's default: 4 steps
    assert video.fps == 8 and video.seed == 7
    assert video.model.name == f"{TINY_MODEL_NAME}-t2v"
    assert json.loads(json.dumps(video.params)) == video.params
    assert "prompt" not in video.params and video.params["prompt_tokens"] == 8  # 7 words + </s>
    assert video.params["num_inference_steps"] == 4 and video.params["guidance_scale"] == 6.0
    # real content, not a constant or clipped image: the watermark layer needs texture
    assert 20 < video.frames.std() < 90 and 60 < video.frames.mean() < 200


def test_image_to_video(i2v, t2v):
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    video = i2v.generate(GenerationParams("the cat walks", mode="i2v", image=image, seed=1, fps=12, **SMALL))
    assert video.frames.shape == (9, 256, 256, 3) and video.fps == 12
    assert video.params["image_shape"] == [300, 400, 3]
    other = i2v.generate(GenerationParams("the cat walks", mode="i2v", image=255 - image, seed=1, **SMALL))
    assert not np.array_equal(video.frames, other.frames)  # the image conditions the result
    with pytest.raises(InvalidParameter) as err:
        t2v.validate(GenerationParams("x", mode="i2v", image=image))
    assert err.value.field == "mode" and "image-to-video checkpoint" in str(err.value)
    with pytest.raises(InvalidParameter) as err:
        i2v.validate(GenerationParams("x", mode="t2v"))
    assert err.value.field == "mode"
    with pytest.raises(InvalidParameter) as err:
        i2v.validate(GenerationParams("x", mode="i2v"))
    assert err.value.field == "image" and "required" in str(err.value)


def test_video_to_video(t2v):
    source = t2v.generate(GenerationParams("waves on a beach", seed=3, **SMALL)).frames
    steps: list[tuple[int, int]] = []
    video = t2v.generate(
        GenerationParams(
            "waves at sunset",
            mode="v2v",
            video=source,
            strength=0.5,
            seed=3,
            num_inference_steps=4,
            width=256,
            height=256,
        ),
        on_step=lambda done, total: steps.append((done, total)),
    )
    assert video.frames.shape == source.shape
    assert steps == [(1, 2), (2, 2)]  # strength 0.5 of 4 steps
    assert video.params["strength"] == 0.5 and video.params["denoising_steps"] == 2
    assert video.params["video_shape"] == list(source.shape)
    stronger = t2v.generate(
        GenerationParams(
            "waves at sunset", mode="v2v", video=source, strength=1.0, seed=3, width=256, height=256
        )
    )
    assert not np.array_equal(video.frames, stronger.frames)


def test_seed_determinism(t2v):
    params = dict(prompt="a lighthouse at night", width=64, height=64, num_frames=9)
    a = t2v.generate(GenerationParams(seed=42, **params))
    b = t2v.generate(GenerationParams(seed=42, **params))
    c = t2v.generate(GenerationParams(seed=43, **params))
    assert np.array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)
    # no seed: a random one is drawn, reported, and reproduces the video
    d = t2v.generate(GenerationParams(**params))
    assert 0 <= d.seed < 2**63 and d.params["seed"] == d.seed
    assert np.array_equal(t2v.generate(GenerationParams(seed=d.seed, **params)).frames, d.frames)


def test_cancel_between_steps(t2v):
    steps: list[int] = []
    with pytest.raises(Cancelled) as err:
        t2v.generate(
            GenerationParams("a fox", seed=1, num_inference_steps=6, **SMALL),
            on_step=lambda done, total: steps.append(done),
            should_cancel=lambda: len(steps) >= 1,
        )
    assert steps == [1]  # the remaining five steps never ran
    assert (err.value.steps_done, err.value.steps_total) == (1, 6)
    with pytest.raises(Cancelled) as err:
        t2v.generate(GenerationParams("a fox", **SMALL), should_cancel=lambda: True)
    assert err.value.steps_done == 0
    steps.clear()
    with pytest.raises(Cancelled) as err:  # a cancel during the last step still returns no video
        t2v.generate(
            GenerationParams("a fox", num_inference_steps=2, width=64, height=64, num_frames=9),
            on_step=lambda done, total: steps.append(done),
            should_cancel=lambda: len(steps) >= 2,
        )
    assert (err.value.steps_done, err.value.steps_total) == (2, 2)
    # the engine is still usable after a cancel
    assert t2v.generate(GenerationParams("a fox", width=64, height=64, num_frames=9)).frames.shape[0] == 9


def test_full_size_720x480(t2v):
    video = t2v.generate(
        GenerationParams("a city street at dusk", seed=5, num_frames=9, num_inference_steps=2)
    )
    assert video.frames.shape == (9, 480, 720, 3)
    assert (video.params["width"], video.params["height"]) == (720, 480)


# ------------------------------------------------------------------------------------- validation


def test_defaults_resolve_to_the_family_card(t2v):
    resolved = t2v.validate(GenerationParams("a dog"))
    assert (resolved.width, resolved.height, resolved.num_frames, resolved.fps) == (720, 480, 49, 8)
    assert resolved.mode == "t2v" and resolved.strength is None
    assert resolved.prompt_tokens == t2v.count_tokens("a dog") == 3  # "a", "dog", </s>


_IMG = np.zeros((64, 64, 3), np.uint8)
_VID = np.zeros((9, 64, 64, 3), np.uint8)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "a\x00b"}, "prompt"),
        ({"negative_prompt": None}, "negative_prompt"),
        ({"mode": "t2i"}, "mode"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**63}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"num_inference_steps": 0}, "num_inference_steps"),
        ({"num_inference_steps": 201}, "num_inference_steps"),
        ({"num_inference_steps": True}, "num_inference_steps"),
        ({"guidance_scale": 0.5}, "guidance_scale"),
        ({"guidance_scale": 31.0}, "guidance_scale"),
        ({"guidance_scale": float("nan")}, "guidance_scale"),
        ({"num_frames": 10}, "num_frames"),
        ({"num_frames": 1}, "num_frames"),
        ({"num_frames": 57}, "num_frames"),
        ({"fps": 0}, "fps"),
        ({"fps": 61}, "fps"),
        ({"width": 250}, "width"),
        ({"height": 260}, "height"),
        ({"width": 48}, "width"),
        ({"width": 4096}, "width"),
        ({"height": "480"}, "height"),
        ({"image": _IMG}, "image"),
        ({"video": _VID}, "video"),
        ({"strength": 0.5}, "strength"),
        ({"mode": "v2v"}, "video"),
        ({"mode": "v2v", "video": _VID.astype(np.float32)}, "video"),
        ({"mode": "v2v", "video": _VID[:8]}, "video"),
        ({"mode": "v2v", "video": _VID, "strength": 0.0}, "strength"),
        ({"mode": "v2v", "video": _VID, "strength": 1.5}, "strength"),
        ({"mode": "v2v", "video": _VID, "strength": 0.1, "num_inference_steps": 4}, "strength"),
        ({"mode": "v2v", "video": _VID, "num_frames": 17}, "num_frames"),
    ],
)
def test_each_invalid_parameter_names_its_field(t2v, changes, field):
    base = {"prompt": "a dog", **SMALL}
    if changes.get("mode") == "v2v":
        del base["num_frames"]  # v2v takes its frame count from the video
    params = GenerationParams(**{**base, **changes})
    with pytest.raises(InvalidParameter) as err:
        t2v.validate(params)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")


def test_learned_positional_embeddings_fix_the_size(i2v, monkeypatch):
    # CogVideoX-5b-I2V has learned positional embeddings: only 720x480 is possible.
    monkeypatch.setitem(i2v.pipe.transformer.config, "use_learned_positional_embeddings", True)
    params = GenerationParams("x", mode="i2v", image=_IMG, width=256, height=256)
    with pytest.raises(InvalidParameter, match="only generates 720x480") as err:
        i2v.validate(params)
    assert err.value.field == "width"
    i2v.validate(GenerationParams("x", mode="i2v", image=_IMG))


def test_prompt_token_limit_is_226_and_never_truncated(t2v):
    at_limit = "cat " * 225  # 225 words + </s> = 226 tokens
    assert t2v.count_tokens(at_limit) == 226
    assert t2v.validate(GenerationParams(at_limit)).prompt_tokens == 226
    with pytest.raises(InvalidParameter) as err:
        t2v.validate(GenerationParams(at_limit + "dog"))
    assert err.value.field == "prompt"
    assert "227 T5 tokens" in str(err.value) and "at most 226" in str(err.value)
    with pytest.raises(InvalidParameter) as err:
        t2v.validate(GenerationParams("a dog", negative_prompt="blurry " * 300))
    assert err.value.field == "negative_prompt"


def test_family_rules_from_the_model_cards():
    one, one_five = FAMILIES["1.0"], FAMILIES["1.5"]
    assert (one.width, one.height, one.num_frames, one.fps, one.max_prompt_tokens) == (720, 480, 49, 8, 226)
    assert (one_five.width, one_five.height, one_five.num_frames, one_five.fps) == (1360, 768, 81, 16)
    assert one_five.max_prompt_tokens == 224
    assert [n for n in range(1, 170) if _frames_ok(one, n)] == [9, 17, 25, 33, 41, 49]
    assert [n for n in range(1, 170) if _frames_ok(one_five, n)] == [
        17,
        33,
        49,
        65,
        81,
        97,
        113,
        129,
        145,
        161,
    ]
    # CogVideoX1.5: short side 768, long side 768..1360
    assert one_five.check_size(1360, 768) is None and one_five.check_size(768, 1360) is None
    assert one_five.check_size(768, 768) is None
    assert "short side 768" in one_five.check_size(1024, 1024)
    assert "long side 768..1360" in one_five.check_size(1376, 768)
    assert one.check_size(720, 480) is None and "256..2048" in one.check_size(128, 480)


def test_engine_from_an_in_memory_pipeline_matches_load(tiny_model_dir, t2v):
    from diffusers import CogVideoXPipeline

    pipe = CogVideoXPipeline.from_pretrained(tiny_model_dir)
    engine = Engine.from_pipeline(pipe, name="in-memory", version="test", device="cpu", attention="math")
    assert (engine.info.family, engine.info.task, engine.info.dtype) == ("1.0", "t2v", "float32")
    # (no veriframe.json here, so the family's 50-step default applies: pin the tiny model's 4)
    params = dict(prompt="a boat", seed=9, num_inference_steps=4, **SMALL)
    a = engine.generate(GenerationParams(**params)).frames
    b = t2v.generate(GenerationParams(**params)).frames
    # same weights and seed; only the attention kernel differs (math vs flash): float rounding at most
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
    with pytest.raises(ValueError, match="attention must be one of"):
        Engine.load(str(tiny_model_dir), attention="fastest")


def test_hub_id_resolves_through_the_offline_cache(tmp_path, monkeypatch):
    """A hub id is found in the Hugging Face cache layout, offline; configs alone describe it."""
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--THUDM--CogVideoX-5b"
    snapshot = repo / "snapshots" / commit
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    _fake_checkpoint(
        snapshot, "CogVideoXPipeline", in_channels=16, out_channels=16, use_rotary_positional_embeddings=True
    )
    index = {
        "_class_name": "CogVideoXPipeline",
        "scheduler": ["diffusers", "CogVideoXDDIMScheduler"],
        "transformer": ["diffusers", "CogVideoXTransformer3DModel"],
    }
    (snapshot / "model_index.json").write_text(json.dumps(index))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    described = inspect_model("THUDM/CogVideoX-5b")
    assert (described.name, described.version, described.family, described.task) == (
        "THUDM/CogVideoX-5b",
        commit,
        "1.0",
        "t2v",
    )
    assert described.dtype == "bfloat16 on CUDA, float32 on CPU"
    assert described.scheduler == "CogVideoXDDIMScheduler"
    # only configs in the cache: a load says so instead of failing deep inside diffusers
    with pytest.raises(ModelLoadError, match="only partly in the Hugging Face cache"):
        Engine.load("THUDM/CogVideoX-5b")
