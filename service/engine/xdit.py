"""``parallel="xdit"``: one video over several GPUs with xDiT (``xfuser``) instead of our own hooks.

xDiT's ``xFuserCogVideoXPipeline`` wraps a diffusers ``CogVideoXPipeline`` and runs its transformer
with CFG, Ulysses and ring parallelism (published: 4.07 s a step on one A100, ~3.2x on 4). Here each
rank loads our Engine as usual (validation, dtype, fused QKV, attention ...), then its pipeline is
wrapped by xDiT's, so requests, progress, cancel and the output checks stay ours (parallel.py runs
the ranks: rank 0 in the worker, one spawned follower per extra GPU).

xDiT initialises torch.distributed itself from torchrun's environment variables and binds rank r to
``cuda:r``, so the devices must be ``cuda:0 .. cuda:N-1`` in order. Degrees: the guidance halves on
2 GPUs when the count is even (``use_cfg_parallel``), the rest along the sequence
(``sequence_parallel``: ulysses or ring).

Optional extra ``xdit`` (``pip install 'veriframe-service[xdit]'``, on a CUDA build of torch): xfuser
0.7.0 declares torch>=2.4.1 (it does not pull a newer torch), yunchang, distvae, einops, peft, av ...
**Not run in this project yet** (no GPU was lent); the CPU tests cover the refusal paths only.
"""

from __future__ import annotations

import os
from typing import Any

INSTALL = "pip install 'veriframe-service[xdit]' on a CUDA build of torch (docs/engine.md)"


class XDiTUnavailable(ValueError):
    """xDiT cannot run here as configured; the message says what to do (options.py re-raises it)."""


def check_xdit(options: Any) -> None:
    """Refuse ``parallel=xdit`` clearly when xDiT is missing or the devices do not fit it."""
    try:
        import xfuser  # noqa: F401  (imports its own dependencies: a partial install fails here)
    except ImportError as exc:
        raise XDiTUnavailable(
            f"parallel=xdit needs xDiT (xfuser), which cannot be imported ({exc}): {INSTALL}"
        ) from None
    expected = tuple(f"cuda:{index}" for index in range(len(options.devices)))
    if tuple(options.devices) != expected:
        raise XDiTUnavailable(
            f"xDiT binds rank r to cuda:r: use --devices {','.join(expected)} "
            f"(restrict the GPUs with CUDA_VISIBLE_DEVICES), not {','.join(options.devices)}"
        )


def degrees(world: int, sequence_parallel: str) -> dict[str, Any]:
    """xFuserArgs' parallel degrees for ``world`` GPUs."""
    cfg = 2 if world % 2 == 0 else 1
    seq = world // cfg
    return {
        "use_cfg_parallel": cfg == 2,
        "ulysses_degree": seq if sequence_parallel == "ulysses" else 1,
        "ring_degree": seq if sequence_parallel == "ring" else 1,
    }


def init_rank(rank: int, options: Any, address: str) -> Any:
    """Set torchrun's variables for this rank and let xDiT build its groups; returns its EngineConfig."""
    from xfuser import xFuserArgs

    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    world = len(options.devices)
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR=host, MASTER_PORT=port
    )
    args = xFuserArgs(model="", **degrees(world, options.sequence_parallel))
    engine_config, _input_config = args.create_config()  # calls init_distributed_environment()
    return engine_config


def wrap(engine: Any, engine_config: Any) -> None:
    """Replace ``engine.pipe`` by xDiT's CogVideoX pipeline around it (same components, same weights)."""
    from xfuser import xFuserCogVideoXPipeline

    engine.pipe = xFuserCogVideoXPipeline(engine.pipe, engine_config)
