"""CogVideoX attention through diffusers' attention dispatcher, and fused QKV without duplicate weights.

diffusers' stock CogVideoX processors call ``F.scaled_dot_product_attention`` themselves, so
``set_attention_backend`` (FlashAttention 3, SageAttention, cuDNN ...) never reaches them. The
processor here does the same arithmetic in the same order but hands the attention product to
``diffusers.models.attention_dispatch.dispatch_attention_fn`` with the backend the engine was given.
With the native and math backends it computes exactly what the stock processor computes (a test
compares frames bit for bit on CPU).
"""

from __future__ import annotations

from typing import Any

#: Our option value -> diffusers' AttentionBackendName value, and whether it can change the output.
#: "sdpa" lets PyTorch pick its kernel, like the stock processor.
BACKENDS: dict[str, tuple[str, str]] = {
    "sdpa": ("native", "PyTorch SDPA, PyTorch picks the kernel (the stock behaviour)"),
    "math": ("_native_math", "PyTorch SDPA math kernel (reference; slow)"),
    "flash": ("_native_flash", "PyTorch SDPA FlashAttention-2 kernel (CUDA fp16/bf16)"),
    "efficient": ("_native_efficient", "PyTorch SDPA memory-efficient kernel"),
    "cudnn": ("_native_cudnn", "PyTorch SDPA cuDNN kernel (Hopper: usually the fastest built-in)"),
    "flash-attn": ("flash", "the flash-attn package (FlashAttention-2)"),
    "fa3": ("_flash_3", "FlashAttention-3 (flash_attn_interface, Hopper)"),
    "sage": ("sage", "SageAttention (int8 QK; approximate: changes the output)"),
}
#: Backends whose arithmetic differs from SDPA beyond kernel rounding: reported as lossy.
LOSSY_BACKENDS = frozenset({"sage"})


def check_backend(name: str) -> str:
    """The diffusers backend name for ``name``; raises ValueError saying what to install when unusable."""
    if name not in BACKENDS:
        raise ValueError(f"attention must be one of {', '.join(BACKENDS)}, got {name!r}")
    # Private in diffusers 0.42 but the same check `set_attention_backend` runs: the package is present.
    from diffusers.models.attention_dispatch import (
        AttentionBackendName,
        _check_attention_backend_requirements,
    )

    backend = AttentionBackendName(BACKENDS[name][0])
    try:
        _check_attention_backend_requirements(backend)
    except RuntimeError as exc:
        raise ValueError(f"attention={name}: {exc}") from exc
    return backend.value


class DispatchCogVideoXAttnProcessor:
    """CogVideoX joint text+video attention whose attention product goes through diffusers' dispatcher.

    Works with unfused (``to_q``/``to_k``/``to_v``) and fused (``to_qkv``) projections. Tensors are
    kept in the dispatcher's (batch, sequence, heads, head_dim) layout; the native backends permute
    them to exactly the strides the stock processor hands to SDPA.
    """

    def __init__(self, backend: str = "native") -> None:
        self.backend = backend
        #: diffusers' ParallelConfig when the sequence is split over devices (sequence.py), else None.
        self._parallel_config: Any = None

    def __call__(
        self,
        attn: Any,
        hidden_states: Any,
        encoder_hidden_states: Any,
        attention_mask: Any = None,
        image_rotary_emb: Any = None,
    ) -> tuple[Any, Any]:
        import torch
        from diffusers.models.attention_dispatch import dispatch_attention_fn
        from diffusers.models.embeddings import apply_rotary_emb

        text_seq_length = encoder_hidden_states.size(1)
        hidden_states = torch.cat([encoder_hidden_states, hidden_states], dim=1)
        batch_size, sequence_length, _ = hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])

        if hasattr(attn, "to_qkv"):
            query, key, value = attn.to_qkv(hidden_states).chunk(3, dim=-1)
        else:
            query, key, value = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        head_dim = key.shape[-1] // attn.heads
        query, key, value = (x.view(batch_size, -1, attn.heads, head_dim) for x in (query, key, value))
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        if image_rotary_emb is not None:
            query[:, text_seq_length:] = apply_rotary_emb(
                query[:, text_seq_length:], image_rotary_emb, sequence_dim=1
            )
            if not attn.is_cross_attention:
                key[:, text_seq_length:] = apply_rotary_emb(
                    key[:, text_seq_length:], image_rotary_emb, sequence_dim=1
                )

        hidden_states = dispatch_attention_fn(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False,
            backend=self.backend,
            parallel_config=self._parallel_config,
        )
        hidden_states = hidden_states.reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        encoder_hidden_states, hidden_states = hidden_states.split(
            [text_seq_length, hidden_states.size(1) - text_seq_length], dim=1
        )
        return hidden_states, encoder_hidden_states


def fuse_qkv(transformer: Any) -> int:
    """Fuse every self-attention's Q, K and V projections into one and drop the unfused weights.

    diffusers' ``fuse_qkv_projections`` keeps ``to_q``/``to_k``/``to_v`` beside the new ``to_qkv``
    (to allow unfusing): for CogVideoX-5b that is 2.4 GB of dead weights. Returns the bytes freed.
    """
    from diffusers.models.attention_processor import Attention

    freed = 0
    for module in transformer.modules():
        if not isinstance(module, Attention) or module.is_cross_attention or hasattr(module, "to_qkv"):
            continue
        module.fuse_projections(fuse=True)
        for name in ("to_q", "to_k", "to_v"):
            freed += sum(p.numel() * p.element_size() for p in getattr(module, name).parameters())
            delattr(module, name)
        module.fused_projections = True
    return freed


def install(transformer: Any, backend: str) -> None:
    """Route every attention of ``transformer`` through the dispatcher with ``backend`` (ours)."""
    processor = DispatchCogVideoXAttnProcessor(check_backend(backend))
    transformer.set_attn_processor(processor)
