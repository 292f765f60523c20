"""One video on several devices, split along the token sequence: diffusers' context parallelism for CogVideoX.

diffusers ships the machinery (``ContextParallelConfig``, the split/gather hooks of
``diffusers.hooks.context_parallel``, Ulysses and ring attention inside ``dispatch_attention_fn``)
but no ``_cp_plan`` for ``CogVideoXTransformer3DModel``. ``cogvideox_cp_plan`` is that plan:

- at every block, the rotary tables (``image_rotary_emb``: one row per video token) are split
  along the tokens, so each block sees the rows of its own tokens;
- at the first block, the video tokens (``hidden_states``) and the text tokens
  (``encoder_hidden_states``) are each split along the sequence. Every rank then holds a slice of
  both, the order the joint attention of CogVideoX needs (text first, then video);
- at the last block, both are all-gathered again, so the final norm (which on the 5B models mixes
  text and video before dropping the text) and the output projection see the whole sequence.

Everything between is token-wise (norms, gates, feed-forward) except attention, which our processor
(``attention.DispatchCogVideoXAttnProcessor``) hands to ``dispatch_attention_fn`` with the parallel
config: Ulysses exchanges sequence slices for head slices (all-to-all), computes whole-sequence
attention on its heads and exchanges back; ring passes key/value slices around and merges partial
results by their log-sum-exp. Neither approximates, but the keys are summed in another order (each
rank's text slice sits next to its video slice), so frames match one process to float rounding, not
bit for bit (tests/test_engine_parallel.py states the tolerance).

Limits (diffusers 0.42): Ulysses needs the head count divisible by the degree (30 heads for 2b, 48
for 5b) and every split sequence divisible by the degree (226 text tokens: degree 2; video tokens at
720x480x49: 17,550, degree 2 or 3); ``ulysses_anything`` (on for degrees that do not divide) pads
heads and splits unevenly. Ring needs an attention kernel that returns the log-sum-exp (cuDNN,
FlashAttention; CUDA only): diffusers' SDPA backend refuses ``return_lse``, so ring cannot run on CPU.
"""

from __future__ import annotations

from typing import Any

SEQUENCE_KINDS: tuple[str, ...] = ("ulysses", "ring")
#: Our attention options whose diffusers backend implements context parallelism (diffusers 0.42).
#: Ring also needs the log-sum-exp from the kernel, which diffusers' SDPA ("sdpa") path refuses.
CP_BACKENDS: dict[str, tuple[str, ...]] = {
    "ulysses": ("sdpa", "cudnn", "flash", "flash-attn", "sage"),
    "ring": ("cudnn", "flash", "flash-attn", "sage"),
}


class SequenceParallelError(ValueError):
    """A sequence-parallel setting this model or attention backend cannot run; says what to change."""


def cogvideox_cp_plan(transformer: Any) -> dict[str, Any]:
    """The context-parallel plan of a CogVideoX transformer (see the module docstring)."""
    from diffusers.models._modeling_parallel import ContextParallelInput, ContextParallelOutput

    last = len(transformer.transformer_blocks) - 1
    tokens = ContextParallelInput(split_dim=1, expected_dims=3)
    rotary = ContextParallelInput(split_dim=0, expected_dims=2)
    return {
        # every block gets the full rotary tables (cos, sin: one row per video token): keep its rows
        "transformer_blocks.*": {"image_rotary_emb": [rotary, rotary]},
        "transformer_blocks.0": {"hidden_states": tokens, "encoder_hidden_states": tokens},
        f"transformer_blocks.{last}": [ContextParallelOutput(gather_dim=1, expected_dims=3)] * 2,
    }


def check_sequence_parallel(transformer: Any, kind: str, degree: int, attention: str) -> None:
    """Refuse, with what to change, a kind/degree/backend that cannot split this model."""
    if kind not in SEQUENCE_KINDS:
        raise SequenceParallelError(
            f"sequence_parallel must be one of {', '.join(SEQUENCE_KINDS)}, got {kind!r}"
        )
    if attention not in CP_BACKENDS[kind]:
        raise SequenceParallelError(
            f"{kind} attention cannot run with attention={attention}: "
            f"use one of {', '.join(CP_BACKENDS[kind])}"
        )
    if kind != "ulysses":
        return
    heads = transformer.config.num_attention_heads
    # diffusers pads the heads to a multiple of the degree; the padding must stay under one rank's share
    pad = -heads % degree
    if pad and pad >= (heads + pad) // degree:
        raise SequenceParallelError(
            f"Ulysses splits the {heads} attention head(s) over {degree} devices: too few heads; "
            "use sequence_parallel=ring or fewer devices"
        )


def needs_anything(transformer: Any, degree: int) -> bool:
    """Whether an uneven split is needed: heads or the 226 text tokens not divisible by ``degree``.

    (The video token count depends on the request; ``ulysses_anything`` handles every count.)
    """
    text = transformer.config.max_text_seq_length
    return bool(transformer.config.num_attention_heads % degree or text % degree or degree > 2)


def enable_sequence_parallel(transformer: Any, *, kind: str, mesh: Any, device: str) -> Any:
    """Install the plan and the parallel config on ``transformer``; returns diffusers' ``ParallelConfig``.

    ``mesh`` is a DeviceMesh with ``ring`` and ``ulysses`` dimensions (and possibly ``cfg``). This is
    ``ModelMixin.enable_parallelism``'s context-parallel branch without its device guess
    (``rank % device_count``: wrong for ``--devices cuda:2,cuda:3`` and a division by zero on CPU).
    """
    import torch
    import torch.distributed as dist
    from diffusers import ContextParallelConfig, ParallelConfig
    from diffusers.hooks.context_parallel import apply_context_parallel

    degree = mesh["ring"].size() * mesh["ulysses"].size()
    uneven = needs_anything(transformer, degree)
    cp = ContextParallelConfig(
        ring_degree=mesh["ring"].size(),
        ulysses_degree=mesh["ulysses"].size(),
        mesh=mesh,
        ulysses_anything=uneven and kind == "ulysses",
        ring_anything=uneven and kind == "ring",
    )
    config = ParallelConfig(context_parallel_config=cp)
    config.setup(dist.get_rank(), dist.get_world_size(), torch.device(device), mesh=mesh)
    transformer._parallel_config = config
    for processor in transformer.attn_processors.values():
        processor._parallel_config = config
    apply_context_parallel(transformer, cp, cogvideox_cp_plan(transformer))
    return config
