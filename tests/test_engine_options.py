"""Engine options on the tiny CogVideoX (CPU): exactness of every exact option, labels of the lossy ones."""

from __future__ import annotations

import numpy as np
import pytest

from veriframe.service.engine import Engine, EngineOptions, GenerationParams, InvalidParameter, OptionError
from veriframe.service.engine.attention import BACKENDS, DispatchCogVideoXAttnProcessor, fuse_qkv

RUN = dict(
    prompt="a red car on a wet road", seed=11, width=256, height=256, num_frames=9, num_inference_steps=3
)


@pytest.fixture(scope="module")
def stock_frames(tiny_model_dir) -> np.ndarray:
    """The reference: diffusers' own CogVideoX attention processor, nothing else changed."""
    from diffusers.models.attention_processor import CogVideoXAttnProcessor2_0

    engine = Engine.load(str(tiny_model_dir))
    engine.pipe.transformer.set_attn_processor(CogVideoXAttnProcessor2_0())
    return engine.generate(GenerationParams(**RUN)).frames


def _tiny_transformer(rotary: bool):
    import torch
    from diffusers import CogVideoXTransformer3DModel

    torch.manual_seed(0)
    return CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=2,
        sample_width=8,
        sample_height=8,
        sample_frames=9,
        patch_size=2,
        max_text_seq_length=16,
        use_rotary_positional_embeddings=rotary,
    ).eval()


@pytest.mark.parametrize("rotary", [False, True], ids=["sincos", "rotary"])
def test_dispatch_processor_is_bit_exact_per_backend(rotary):
    """Each backend that runs here gives exactly the stock processor's output under the same kernel."""
    import torch
    from diffusers.models.attention_processor import CogVideoXAttnProcessor2_0
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    from torch.nn.attention import SDPBackend, sdpa_kernel

    transformer = _tiny_transformer(rotary)
    x, text, steps = torch.randn(2, 3, 4, 8, 8), torch.randn(2, 16, 32), torch.tensor([500, 500])
    rope = get_3d_rotary_pos_embed(16, ((0, 0), (4, 4)), (4, 4), 3) if rotary else None

    def forward():
        with torch.no_grad():
            return transformer(x, encoder_hidden_states=text, timestep=steps, image_rotary_emb=rope)[0]

    kernels = {"sdpa": None, "math": SDPBackend.MATH, "flash": SDPBackend.FLASH_ATTENTION}
    for name, kernel in kernels.items():
        transformer.set_attn_processor(CogVideoXAttnProcessor2_0())
        if kernel is None:
            stock = forward()
        else:
            with sdpa_kernel([kernel]):
                stock = forward()
        from veriframe.service.engine.attention import install

        install(transformer, name)
        ours = forward()
        assert torch.equal(stock, ours), f"{name}: max difference {(stock - ours).abs().max().item()}"
    assert isinstance(next(iter(transformer.attn_processors.values())), DispatchCogVideoXAttnProcessor)


def test_fused_qkv_drops_the_unfused_weights_and_keeps_the_output():
    import torch

    transformer = _tiny_transformer(rotary=True)
    before = sum(p.numel() for p in transformer.parameters())
    x, text, steps = torch.randn(2, 3, 4, 8, 8), torch.randn(2, 16, 32), torch.tensor([500, 500])
    with torch.no_grad():
        reference = transformer(x, encoder_hidden_states=text, timestep=steps)[0]
    freed = fuse_qkv(transformer)
    from veriframe.service.engine.attention import install

    install(transformer, "sdpa")
    attn = transformer.transformer_blocks[0].attn1
    assert hasattr(attn, "to_qkv") and not any(hasattr(attn, n) for n in ("to_q", "to_k", "to_v"))
    # same parameter count as before: the fused weight replaces the three, nothing is kept twice
    assert sum(p.numel() for p in transformer.parameters()) == before
    assert freed == 2 * 3 * (32 * 32 + 32) * 4  # 2 blocks x (q, k, v) x (weight + bias) x fp32
    with torch.no_grad():
        assert torch.equal(transformer(x, encoder_hidden_states=text, timestep=steps)[0], reference)


@pytest.mark.parametrize(
    "options",
    [
        EngineOptions(attention="sdpa"),
        EngineOptions(attention="flash"),
        EngineOptions(fuse_qkv=True),
        EngineOptions(vae_channels_last=True),
        EngineOptions(fuse_qkv=True, vae_channels_last=True, attention="flash"),
    ],
    ids=["sdpa", "flash", "fuse_qkv", "vae_channels_last", "all"],
)
def test_exact_options_give_the_stock_frames(tiny_model_dir, stock_frames, options):
    engine = Engine.load(str(tiny_model_dir), options=options)
    video = engine.generate(GenerationParams(**RUN))
    assert np.array_equal(video.frames, stock_frames)
    report = video.params["engine"]
    assert report["exact"] is True and report["lossy"] == []
    assert report["attention"] == (options.attention or "sdpa") and report["device"] == "cpu"
    if options.vae_channels_last:
        assert engine.load_facts["vae_channels_last_convs"] > 0
        import torch

        conv = next(m for m in engine.pipe.vae.modules() if isinstance(m, torch.nn.Conv3d))
        assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)


def test_cpu_defaults_and_option_errors():
    resolved = EngineOptions().resolve()
    assert (resolved.device, resolved.fuse_qkv, resolved.compile, resolved.attention) == (
        "cpu",
        False,
        "none",
        "sdpa",
    )
    assert resolved.vae_channels_last is False
    with pytest.raises(OptionError, match="attention must be one of"):
        EngineOptions(attention="fastest")
    with pytest.raises(OptionError, match="cache must be one of"):
        EngineOptions(cache="everything")
    with pytest.raises(OptionError, match="unknown engine option"):
        EngineOptions.from_mapping({"compiled": True})
    with pytest.raises(OptionError, match="WIDTHxHEIGHTxFRAMES"):
        EngineOptions.from_mapping({"warmup": "720x480"})
    with pytest.raises(OptionError, match=r"fa3.*Flash Attention 3"):
        EngineOptions(attention="fa3").resolve()
    with pytest.raises(OptionError, match="sageattention"):
        EngineOptions(attention="sage").resolve()
    with pytest.raises(OptionError, match="CUDA is not available"):
        EngineOptions(device="cuda:0").resolve()
    with pytest.raises(OptionError, match="caching decides per rank"):
        EngineOptions(devices=("cpu", "cpu"), cache="pab")
    parsed = EngineOptions.from_mapping({"devices": "cuda:0, cuda:1", "warmup": "720x480x49,720x480x9"})
    assert parsed.devices == ("cuda:0", "cuda:1") and parsed.warmup == ((720, 480, 49), (720, 480, 9))
    assert set(BACKENDS) >= {"sdpa", "math", "flash", "efficient", "cudnn", "fa3", "sage"}


def test_fp8_refuses_clearly_without_a_capable_gpu(tiny_model_dir):
    with pytest.raises(OptionError, match=r"fp8 needs a CUDA GPU with compute capability 8\.9"):
        Engine.load(str(tiny_model_dir), options=EngineOptions(fp8=True))
    labelled = EngineOptions(fp8=True, device="cuda")
    assert labelled.lossy == ["fp8"] and labelled.report()["exact"] is False


def test_fp8_config_is_torchao_float8_dynamic_per_row():
    pytest.importorskip("torchao", reason="torchao is the optional [fp8] extra; not installed here")
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, PerRow

    from veriframe.service.engine.lossy import fp8_config

    config = fp8_config()
    assert isinstance(config, Float8DynamicActivationFloat8WeightConfig)
    assert all(isinstance(g, PerRow) for g in config.granularity)


def test_magcache_needs_ratios_and_its_step_count(tiny_model_dir):
    with pytest.raises(OptionError, match="mag_ratios"):
        Engine.load(str(tiny_model_dir), options=EngineOptions(cache="mag"))


def test_load_keyword_arguments_still_work(tiny_model_dir):
    engine = Engine.load(str(tiny_model_dir), compile=False, attention="math", fuse_qkv=True)
    assert (engine.options.compile, engine.options.attention, engine.options.fuse_qkv) == (
        "none",
        "math",
        True,
    )
    with pytest.raises(InvalidParameter, match="num_frames"):
        engine.generate(GenerationParams(**{**RUN, "num_frames": 10}))


# --------------------------------------------------------------------- compile and warm-up


def test_regional_compile_warm_up_then_no_recompile(tiny_model_dir, stock_frames):
    """Each block compiled; the warm-up compiles the configured shape, so the request does not."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    # aot_eager traces and partitions like inductor but runs PyTorch's kernels: exact, and no C++
    # toolchain time on CPU. (bench/bench_engine_gpu.py measures inductor on the GPU.)
    options = EngineOptions(compile="blocks", compile_backend="aot_eager", warmup=((256, 256, 9),))
    engine = Engine.load(str(tiny_model_dir), options=options)
    assert engine.load_facts["compiled_modules"] == len(engine.pipe.transformer.transformer_blocks)
    warmed = engine.warm_up()
    assert [w["shape"] for w in warmed] == ["256x256x9"]
    graphs = counters["stats"]["unique_graphs"]
    assert graphs >= 1
    video = engine.generate(GenerationParams(**RUN))
    assert counters["stats"]["unique_graphs"] == graphs  # warmed: nothing compiled on the request
    assert np.array_equal(video.frames, stock_frames)
    assert video.params["engine"]["compile"] == "blocks" and video.params["engine"]["warmup"] == ["256x256x9"]
    # "auto" dynamic policy: a new frame count recompiles once with symbolic sizes, then never again
    engine.generate(GenerationParams(**{**RUN, "num_frames": 17}))
    dynamic = counters["stats"]["unique_graphs"]
    engine.generate(GenerationParams(**{**RUN, "num_frames": 25}))
    assert counters["stats"]["unique_graphs"] == dynamic
    torch._dynamo.reset()


# --------------------------------------------------------------------------- lossy: caches


@pytest.fixture(scope="module")
def two_block_exact():
    """The tiny model with two transformer blocks (first-block and mag caching need a leader and a tail)."""
    from veriframe.service.engine.tiny import build_random_pipeline, tiny_configs

    def make(options: EngineOptions) -> Engine:
        pipe = build_random_pipeline(tiny_configs(num_layers=2))
        return Engine.from_pipeline(pipe, name="tiny-2-blocks", version="test", options=options)

    run = {**RUN, "num_inference_steps": 10}
    return make, run, make(EngineOptions()).generate(GenerationParams(**run)).frames


@pytest.mark.parametrize("cache", ["pab", "faster", "fbc", "mag", "taylorseer"])
def test_cache_hooks_run_on_the_tiny_model_and_label_the_video(two_block_exact, cache):
    from diffusers.hooks import HookRegistry

    from veriframe.service.engine.quality import compare

    make, run, exact = two_block_exact
    extra = {"mag_ratios": [1.0] * run["num_inference_steps"]} if cache == "mag" else {}
    engine = make(EngineOptions(cache=cache, extra=extra))
    hooked = [
        name
        for _, module in engine.pipe.transformer.named_modules()
        if hasattr(module, "_diffusers_hook")
        for name in HookRegistry.check_if_exists_or_initialize(module).hooks
    ]
    assert hooked, f"{cache}: no diffusers hook registered"
    video = engine.generate(GenerationParams(**run))
    assert video.params["engine"]["lossy"] == [f"cache:{cache}"] and video.params["engine"]["exact"] is False
    figures = compare(exact, video.frames)
    assert not figures["identical"], f"{cache} skipped nothing"  # it did skip computation
    assert figures["psnr_db"] > 30 and figures["ssim"] > 0.9, figures
    # the same engine again: the hooks' state is reset between videos, so the result repeats
    assert np.array_equal(engine.generate(GenerationParams(**run)).frames, video.frames)
    if cache == "mag":
        with pytest.raises(InvalidParameter, match="calibrated for 10 steps"):
            engine.generate(GenerationParams(**{**run, "num_inference_steps": 4}))


def test_parallel_modes_defaults_and_refusals():
    from veriframe.service.engine.sequence import SequenceParallelError, check_sequence_parallel

    assert EngineOptions(devices=("cpu", "cpu")).parallel_mode == "cfg"
    assert EngineOptions(devices=("cpu",) * 4).parallel_mode == "cfg+sequence"
    assert EngineOptions(devices=("cpu",) * 3).parallel_mode == "sequence"
    assert EngineOptions().parallel_mode is None
    resolved = EngineOptions(devices=("cpu", "cpu"), parallel="sequence").resolve()
    assert resolved.report()["parallel"] == "sequence" and resolved.report()["exact"]
    with pytest.raises(OptionError, match="parallel must be one of"):
        EngineOptions(devices=("cpu", "cpu"), parallel="tensor")
    assert EngineOptions(parallel="sequence").resolve().parallel is None  # one device: nothing to split
    with pytest.raises(OptionError, match="exactly 2 devices"):
        EngineOptions(devices=("cpu",) * 4, parallel="cfg")
    with pytest.raises(OptionError, match="even number of devices, at least 4"):
        EngineOptions(devices=("cpu",) * 3, parallel="cfg+sequence")
    with pytest.raises(OptionError, match="sequence_parallel must be one of"):
        EngineOptions(devices=("cpu", "cpu"), sequence_parallel="zigzag")
    # ring merges partial results by log-sum-exp: diffusers' SDPA path cannot return it
    with pytest.raises(OptionError, match=r"ring attention cannot run with attention=sdpa.*cudnn"):
        EngineOptions(devices=("cpu", "cpu"), parallel="sequence", sequence_parallel="ring")
    with pytest.raises(OptionError, match="ulysses attention cannot run with attention=fa3"):
        EngineOptions(devices=("cpu",) * 4, attention="fa3")  # cfg+sequence by default on 4
    # the tiny model's single head cannot be split by Ulysses; 2 heads can, 48 over 8 can
    one_head = _tiny_transformer(rotary=False)
    one_head.register_to_config(num_attention_heads=1)
    with pytest.raises(SequenceParallelError, match="1 attention head"):
        check_sequence_parallel(one_head, "ulysses", 2, "sdpa")
    one_head.register_to_config(num_attention_heads=48)
    check_sequence_parallel(one_head, "ulysses", 8, "sdpa")
    one_head.register_to_config(num_attention_heads=30)  # 2b: padded to 32 over 8 ranks
    check_sequence_parallel(one_head, "ulysses", 8, "sdpa")


def test_xdit_is_refused_clearly_when_xfuser_is_missing(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xfuser", None)  # as on a machine without the xdit extra
    with pytest.raises(OptionError, match=r"xfuser.*pip install 'veriframe-service\[xdit\]'"):
        EngineOptions(devices=("cuda:0", "cuda:1"), parallel="xdit")


def test_xdit_degrees_and_device_order(monkeypatch):
    import sys
    import types

    from veriframe.service.engine.xdit import degrees

    assert degrees(4, "ulysses") == {"use_cfg_parallel": True, "ulysses_degree": 2, "ring_degree": 1}
    assert degrees(3, "ring") == {"use_cfg_parallel": False, "ulysses_degree": 1, "ring_degree": 3}
    monkeypatch.setitem(sys.modules, "xfuser", types.ModuleType("xfuser"))  # importable: the next check
    with pytest.raises(OptionError, match="binds rank r to cuda:r: use --devices cuda:0,cuda:1"):
        EngineOptions(devices=("cuda:2", "cuda:3"), parallel="xdit")


def test_magcache_calibration_is_recorded_beside_the_model_and_used(tmp_path, tiny_model_dir, capsys):
    """`veriframe model calibrate-magcache` records diffusers' own calibration; the engine then uses it."""
    import json

    from typer.testing import CliRunner

    from veriframe.service.cli import app
    from veriframe.service.engine.tiny import build_random_pipeline, tiny_configs

    model = tmp_path / "two-blocks"
    build_random_pipeline(tiny_configs(num_layers=2), seed=4).save_pretrained(model)
    meta = json.loads((tiny_model_dir / "veriframe.json").read_text())
    (model / "veriframe.json").write_text(json.dumps({**meta, "name": "veriframe/tiny-2-blocks"}))
    size = ["--width", "256", "--height", "256", "--frames", "9", "--steps", "5"]
    result = CliRunner().invoke(app, ["model", "calibrate-magcache", str(model), *size])
    assert result.exit_code == 0, result.output
    record = json.loads((model / "veriframe-magcache.json").read_text())
    assert record["mag_steps"] == 5 and len(record["mag_ratios"]) == 5 and record["mag_ratios"][0] == 1.0
    assert all(r > 0 for r in record["mag_ratios"]) and len(set(record["mag_ratios"])) > 1
    # the numbers are the ones diffusers' calibration mode printed itself
    printed = [line for line in result.output.splitlines() if line.startswith("[1.0")]
    assert printed and json.loads(printed[-1]) == record["mag_ratios"]
    assert "VERIFRAME_MAG_RATIOS=" in result.output

    engine = Engine.load(str(model), options=EngineOptions(cache="mag"))  # no ratios given: read beside
    assert engine.options.extra["mag_ratios"] == record["mag_ratios"]
    video = engine.generate(GenerationParams(prompt="a boat", seed=1, width=256, height=256, num_frames=9,
                                             num_inference_steps=5))
    assert video.params["engine"]["lossy"] == ["cache:mag"]
    with pytest.raises(InvalidParameter, match="calibrated for 5 steps"):
        engine.generate(GenerationParams(prompt="a boat", num_inference_steps=4))
    missing = CliRunner().invoke(app, ["model", "calibrate-magcache", "THUDM/CogVideoX-5b"])
    assert missing.exit_code == 2 and "--out FILE" in missing.output
