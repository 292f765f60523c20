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
