"""CFG parallelism on two CPU processes (torch.distributed, gloo) with the tiny CogVideoX."""

from __future__ import annotations

import numpy as np
import pytest

from veriframe.service.engine import Cancelled, Engine, EngineOptions, GenerationParams
from veriframe.service.engine.parallel import ParallelEngine, load_engine

RUN = dict(
    prompt="two birds flying over a lake", seed=5, width=256, height=256, num_frames=9, num_inference_steps=3
)


@pytest.mark.timeout(600)
def test_two_process_cfg_parallel_frames_equal_one_process(tiny_model_dir):
    single = Engine.load(str(tiny_model_dir)).generate(GenerationParams(**RUN)).frames
    engine = load_engine(str(tiny_model_dir), EngineOptions(devices=("cpu", "cpu")))
    assert isinstance(engine, ParallelEngine)
    try:
        steps: list[int] = []
        video = engine.generate(GenerationParams(**RUN), on_step=lambda done, total: steps.append(done))
        assert np.array_equal(video.frames, single)  # bit for bit: nothing is approximated
        assert steps == [1, 2, 3]
        assert video.params["engine"]["devices"] == ["cpu", "cpu"] and video.params["engine"]["exact"]

        # A cancel on rank 0 stops every rank after the same step; the group keeps working after it.
        with pytest.raises(Cancelled) as stopped:
            engine.generate(
                GenerationParams(**RUN),
                should_cancel=lambda: len(steps) >= 4,
                on_step=lambda done, total: steps.append(done),
            )
        assert stopped.value.steps_done == 1
        # guidance 1 means a batch of one: every rank runs it whole, still the single-process frames
        plain = {**RUN, "guidance_scale": 1.0}
        expected = Engine.load(str(tiny_model_dir)).generate(GenerationParams(**plain)).frames
        assert np.array_equal(engine.generate(GenerationParams(**plain)).frames, expected)
    finally:
        engine.close()
    assert all(not p.is_alive() for p in engine._followers)


@pytest.fixture(scope="module")
def two_head_rotary_dir(tmp_path_factory, tiny_model_dir):
    """A tiny checkpoint Ulysses can split (2 heads; the 5B models' rotary embeddings), 2 blocks."""
    import json

    from veriframe.service.engine.tiny import build_random_pipeline, tiny_configs

    configs = tiny_configs(num_layers=2)
    configs["transformer"].update(
        num_attention_heads=2, attention_head_dim=16, use_rotary_positional_embeddings=True
    )
    out = tmp_path_factory.mktemp("tiny-2-heads-rotary")
    build_random_pipeline(configs, seed=3).save_pretrained(out)
    meta = json.loads((tiny_model_dir / "veriframe.json").read_text())
    (out / "veriframe.json").write_text(json.dumps({**meta, "name": "veriframe/tiny-2-heads-rotary"}))
    return out


def _local_tokens(engine) -> list[int]:
    """Record the token count each attention of rank 0 sees (its slice when the sequence is split)."""
    seen: list[int] = []
    attn = engine.engine.pipe.transformer.transformer_blocks[0].attn1
    attn.register_forward_pre_hook(lambda module, args, kwargs: seen.append(kwargs["hidden_states"].shape[1]),
                                   with_kwargs=True)
    return seen


# Float rounding only (the keys are summed in another order): frames within one 8-bit level.
FRAME_TOLERANCE = 1


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "parallel, devices",
    [("sequence", ("cpu", "cpu")), ("cfg+sequence", ("cpu",) * 4)],
    ids=["ulysses-2", "cfg2-x-ulysses2"],
)
def test_sequence_parallel_frames_match_one_process(two_head_rotary_dir, parallel, devices):
    single = Engine.load(str(two_head_rotary_dir)).generate(GenerationParams(**RUN)).frames
    engine = load_engine(str(two_head_rotary_dir), EngineOptions(devices=devices, parallel=parallel))
    try:
        cfg = 2 if parallel == "cfg+sequence" else 1
        assert engine.load_facts["parallel"] == {
            "cfg_degree": cfg, "sequence_degree": 2, "sequence_parallel": "ulysses"
        }
        seen = _local_tokens(engine)
        video = engine.generate(GenerationParams(**RUN))
        # 256x256x9: 3 latent frames x 32 x 32 latents, 2x2 patches -> 768 video tokens; 384 a rank
        assert set(seen) == {384}, seen
        diff = np.abs(video.frames.astype(np.int16) - single.astype(np.int16))
        print(f"\n{parallel} on {len(devices)} processes: max diff {diff.max()}, "
              f"{np.count_nonzero(diff)} of {diff.size} values differ")
        assert diff.max() <= FRAME_TOLERANCE
        assert np.count_nonzero(diff) <= diff.size // 1000
        assert video.params["engine"]["parallel"] == parallel and video.params["engine"]["exact"]
    finally:
        engine.close()
    assert all(not p.is_alive() for p in engine._followers)


def _transformer_and_inputs(rotary: bool):
    """A 2-head, 2-block CogVideoX transformer and fixed inputs (same seed in every process)."""
    import torch
    from diffusers import CogVideoXTransformer3DModel
    from diffusers.models.embeddings import get_3d_rotary_pos_embed

    from veriframe.service.engine.attention import install

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=2, sample_width=8, sample_height=8, sample_frames=9, patch_size=2,
        max_text_seq_length=16, use_rotary_positional_embeddings=rotary,
    ).eval()
    install(transformer, "sdpa")
    torch.manual_seed(1)
    x, text, steps = torch.randn(2, 3, 4, 8, 8), torch.randn(2, 16, 32), torch.tensor([500, 500])
    rope = get_3d_rotary_pos_embed(16, ((0, 0), (4, 4)), (4, 4), 3) if rotary else None
    inputs = dict(hidden_states=x, encoder_hidden_states=text, timestep=steps, image_rotary_emb=rope)
    return transformer, inputs


def _split_rank(rank: int, address: str, results) -> None:
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    from veriframe.service.engine.sequence import enable_sequence_parallel

    dist.init_process_group("gloo", init_method=address, rank=rank, world_size=2)
    try:
        mesh = init_device_mesh("cpu", (1, 2), mesh_dim_names=("ring", "ulysses"))
        for rotary in (False, True):
            transformer, inputs = _transformer_and_inputs(rotary)
            enable_sequence_parallel(transformer, kind="ulysses", mesh=mesh, device="cpu")
            with torch.no_grad():
                out = transformer(**inputs, return_dict=False)[0]
            if rank == 0:
                results.put((rotary, out.numpy()))
    finally:
        dist.destroy_process_group()


# Ulysses changes only the order in which keys are summed: float32 rounding, nothing more.
OUTPUT_ATOL = 1e-5


@pytest.mark.timeout(300)
def test_ulysses_transformer_outputs_match_one_process_to_float_rounding():
    import multiprocessing

    import torch

    from veriframe.service.engine.parallel import free_port

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    address = f"tcp://127.0.0.1:{free_port()}"
    ranks = [context.Process(target=_split_rank, args=(r, address, results)) for r in range(2)]
    for process in ranks:
        process.start()
    split = dict(results.get(timeout=240) for _ in range(2))
    for process in ranks:
        process.join(timeout=60)
    assert all(process.exitcode == 0 for process in ranks)
    for rotary in (False, True):
        transformer, inputs = _transformer_and_inputs(rotary)
        with torch.no_grad():
            whole = transformer(**inputs, return_dict=False)[0].numpy()
        difference = np.abs(split[rotary] - whole).max()
        print(f"\nrotary={rotary}: max |split - one process| = {difference:.2e} (values up to "
              f"{np.abs(whole).max():.2f})")
        assert difference <= OUTPUT_ATOL
        assert np.abs(whole).max() > 1.0  # a real output, not an empty one
