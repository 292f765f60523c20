"""One video on several devices: classifier-free-guidance (CFG) and sequence parallelism (torch.distributed).

CogVideoX runs every denoising step on a batch of two: the unconditional and the conditional
half. With CFG parallelism each rank holds the whole model, every rank runs the same pipeline
(same seed, same scheduler), and inside each transformer call rank r computes only half r of the
batch; the halves are all-gathered, so every rank continues with the full result. The transformer
is the whole cost of a step, so two devices take about half the time; nothing is approximated.

Orchestration (``ParallelEngine``): the worker's process is rank 0 and spawns one follower process
per extra device. Rank 0 broadcasts each request; every step it broadcasts whether to stop (the
job's cancel), so all ranks leave the loop together. Backend: NCCL on CUDA, gloo on CPU (tests).
Sequence parallelism (``parallel="sequence"``, or ``"cfg+sequence"`` on 4, 6, 8 ... devices) splits
each half's tokens over a group with diffusers' context-parallel hooks and Ulysses/ring attention
(sequence.py); ``parallel="xdit"`` hands the whole video to xDiT instead (xdit.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

_STOP = "stop"
COLLECTIVE_TIMEOUT = timedelta(minutes=10)  # a follower that died must not hang the worker forever


def _split(value: Any, rank: int, world: int) -> Any:
    """Rank ``rank``'s slice of a whole-batch tensor; anything else (a half already) unchanged."""
    import torch

    if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == world:
        return value[rank : rank + 1]
    return value


def enable_cfg_parallel(transformer: Any, group: Any = None) -> list[Any]:
    """Hook ``transformer`` so each rank runs the transformer blocks on its half of the CFG batch.

    Only the blocks (all of the cost) are split: the patch and time embeddings and the output
    projection still see the whole batch, because PyTorch's CPU kernels round a one-row matmul (the
    time embedding) differently from a two-row one, and frames must equal a single process's.
    A batch that is not one item per rank (guidance off) runs whole on every rank. Returns the hooks.
    """
    import torch
    import torch.distributed as dist

    world = dist.get_world_size(group)
    rank = dist.get_rank(group)
    split = {"on": False}

    def decide(module: Any, args: tuple, kwargs: dict[str, Any]) -> None:
        hidden = kwargs.get("hidden_states", args[0] if args else None)
        split["on"] = hidden is not None and hidden.shape[0] == world

    def take_half(module: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
        if not split["on"]:
            return args, kwargs
        return (
            tuple(_split(a, rank, world) for a in args),
            {k: _split(v, rank, world) for k, v in kwargs.items()},
        )

    def gather(module: Any, args: tuple, kwargs: dict[str, Any], output: Any) -> Any:
        if not split["on"]:
            return output
        gathered = []
        for half in output:  # (hidden_states, encoder_hidden_states)
            parts = [torch.empty_like(half) for _ in range(world)]
            dist.all_gather(parts, half.contiguous(), group=group)
            gathered.append(torch.cat(parts, dim=0))
        return tuple(gathered)

    blocks = transformer.transformer_blocks
    handles = [transformer.register_forward_pre_hook(decide, with_kwargs=True)]
    handles += [block.register_forward_pre_hook(take_half, with_kwargs=True) for block in blocks]
    handles.append(blocks[-1].register_forward_hook(gather, with_kwargs=True))
    return handles


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def init_group(rank: int, world: int, address: str, device: str) -> None:
    import torch
    import torch.distributed as dist

    backend = "nccl" if device.startswith("cuda") else "gloo"
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(
        backend, init_method=address, rank=rank, world_size=world, timeout=COLLECTIVE_TIMEOUT
    )


def _start_rank(rank: int, options: Any, address: str) -> Any:
    """Join the process group: ours, or xDiT's (which builds its own); returns xDiT's config or None."""
    if options.parallel == "xdit":
        from veriframe.service.engine import xdit

        return xdit.init_rank(rank, options, address)
    init_group(rank, len(options.devices), address, options.devices[rank])
    return None


def degrees(options: Any) -> tuple[int, int]:
    """(CFG degree, sequence degree) of ``options.parallel`` over ``options.devices`` (ours, not xDiT's)."""
    world = len(options.devices)
    cfg = 2 if options.parallel in ("cfg", "cfg+sequence") else 1
    return cfg, world // cfg


def setup_parallel(transformer: Any, options: Any, device: str) -> dict[str, Any]:
    """Install this rank's share of the work on ``transformer``: CFG halves, sequence slices, or both.

    CFG and sequence groups come from one DeviceMesh (cfg, ring, ulysses): rank = cfg x seq + s, so
    the two CFG halves are the mesh's outer dimension and each runs its sequence group inside.
    """
    cfg, seq = degrees(options)
    if seq == 1:  # plain CFG parallelism over the default group
        enable_cfg_parallel(transformer)
        return {"cfg_degree": cfg, "sequence_degree": 1}
    from torch.distributed.device_mesh import init_device_mesh

    from veriframe.service.engine.sequence import enable_sequence_parallel

    kind = options.sequence_parallel
    shape = (cfg, seq if kind == "ring" else 1, seq if kind == "ulysses" else 1)
    device_type = "cuda" if device.startswith("cuda") else "cpu"
    mesh = init_device_mesh(device_type, shape, mesh_dim_names=("cfg", "ring", "ulysses"))
    if cfg > 1:
        enable_cfg_parallel(transformer, group=mesh["cfg"].get_group())
    enable_sequence_parallel(transformer, kind=kind, mesh=mesh, device=device)
    return {"cfg_degree": cfg, "sequence_degree": seq, "sequence_parallel": kind}


def _load(model: Any, options: Any, rank: int) -> Any:
    """Load this rank's copy and check it can be split (no collective yet: a failure is reported).

    ``model``: a checkpoint (id or directory), or a picklable callable ``(options) -> Engine`` that
    builds the same engine in every rank (the benchmark's random-weight models: same seed, same weights).
    """
    from dataclasses import replace

    from veriframe.service.engine.engine import Engine
    from veriframe.service.engine.sequence import check_sequence_parallel

    own = replace(options, device=options.devices[rank])
    engine = model(own) if callable(model) else Engine.load(model, options=own)
    _, seq = degrees(options)
    if seq > 1 and options.parallel != "xdit":
        check_sequence_parallel(engine.pipe.transformer, options.sequence_parallel, seq, options.attention)
    return engine


def _join(engine: Any, options: Any, rank: int, xdit_config: Any) -> None:
    """Every rank loaded: build the groups (collective) and hook the transformer, or hand it to xDiT."""
    if xdit_config is not None:
        from veriframe.service.engine import xdit

        xdit.wrap(engine, xdit_config)
        facts: dict[str, Any] = {"xdit": xdit.degrees(len(options.devices), options.sequence_parallel)}
    else:
        facts = setup_parallel(engine.pipe.transformer, options, options.devices[rank])
    engine.load_facts["parallel"] = facts
    engine.in_group = True


def _all_ready(error: str | None) -> list[str]:
    """Every rank says whether it loaded; returns the errors (all ranks see the same list)."""
    import torch.distributed as dist

    errors: list[str | None] = [None] * dist.get_world_size()
    dist.all_gather_object(errors, error)
    return [e for e in errors if e]


def _follower(model: Any, options: Any, rank: int, address: str) -> None:
    """Rank > 0: load the model, then run every request rank 0 broadcasts, until told to stop."""
    import torch.distributed as dist

    xdit_config = _start_rank(rank, options, address)
    engine = error = None
    try:
        engine = _load(model, options, rank)
    except Exception as exc:
        error = f"rank {rank} ({options.devices[rank]}): {type(exc).__name__}: {exc}"
    try:
        if _all_ready(error):
            return
        _join(engine, options, rank, xdit_config)
        while True:
            box = [None]
            dist.broadcast_object_list(box, src=0)
            if box[0] == _STOP:
                return
            try:
                engine.generate(box[0])
            except Exception:  # rank 0 reports the job's outcome; this rank only follows
                log.debug("follower %d: generation ended early", rank, exc_info=True)
    finally:
        dist.destroy_process_group()


class ParallelEngine:
    """An Engine spanning ``options.devices``: the job queue sees one worker, the video uses them all.

    Same interface as Engine (``info``, ``validate``, ``generate``, ``warm_up``, ``options``).
    """

    def __init__(self, model: Any, options: Any) -> None:
        import torch.distributed as dist

        self.options = options
        address = f"tcp://127.0.0.1:{free_port()}"
        context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        self._followers = [
            context.Process(target=_follower, args=(model, options, rank, address), daemon=True)
            for rank in range(1, len(options.devices))
        ]
        for process in self._followers:
            process.start()
        xdit_config = _start_rank(0, options, address)
        error = None
        try:
            self.engine = _load(model, options, 0)
        except Exception as exc:
            error = f"rank 0 ({options.devices[0]}): {type(exc).__name__}: {exc}"
        errors = _all_ready(error)
        if errors:
            dist.destroy_process_group()
            self._join()
            raise RuntimeError("the multi-device engine could not load: " + "; ".join(errors))
        _join(self.engine, options, 0, xdit_config)
        self.info = self.engine.info
        self.pipe = self.engine.pipe
        self.load_facts = {**self.engine.load_facts, "devices": list(options.devices)}

    def validate(self, params: Any) -> Any:
        return self.engine.validate(params)

    def count_tokens(self, text: str) -> int:
        return self.engine.count_tokens(text)

    def generate(self, params: Any, *, on_step: Any = None, should_cancel: Any = None) -> Any:
        import torch.distributed as dist

        from veriframe.service.engine.engine import Cancelled

        run = self.engine.validate(params)  # a bad request never reaches the followers
        self.engine._check_run(run)
        if should_cancel is not None and should_cancel():
            raise Cancelled(0, run.denoising_steps)
        dist.broadcast_object_list([params], src=0)
        return self.engine.generate(params, on_step=on_step, should_cancel=should_cancel)

    def warm_up(self, shapes: Any = None) -> list[dict[str, Any]]:
        from veriframe.service.engine.accel import warm_up
        from veriframe.service.engine.engine import GenerationParams

        return warm_up(self, self.options.warmup if shapes is None else shapes, make_params=GenerationParams)

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            try:
                dist.broadcast_object_list([_STOP], src=0)
            finally:
                dist.destroy_process_group()
        self._join()

    def _join(self) -> None:
        for process in self._followers:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


def load_engine(model: str, options: Any, **kwargs: Any) -> Any:
    """An Engine, or a ParallelEngine when ``options.devices`` names several devices."""
    from veriframe.service.engine.engine import Engine

    if len(options.devices) > 1:
        return ParallelEngine(model, options.resolve())
    return Engine.load(model, options=options, **kwargs)
