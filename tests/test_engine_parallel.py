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
