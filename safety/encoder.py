"""A MiniLM forward pass whose output for a text depends on that text only: int8, one scale per text.

Why: torch's int8 *dynamic* quantisation (``torch.ao.quantization.quantize_dynamic``) picks one
activation scale per Linear call from the min and max of the whole input tensor, padding rows included.
Run over a padded batch, a text's embedding therefore moved with whatever else shared its batch (scores
by up to 0.54; 196 of 3,400 decisions flipped, bench/bench_encoder_agreement.py), and with the
cross-request micro-batcher one tenant's decision could depend on what other tenants submitted at the
same moment. A safety decision must be a function of the prompt and the policy only.

How, two paths that give the same bits (``tests/test_safety_encoder.py``):

- one text (:meth:`PerTextInt8Encoder.one`): the text runs alone, unpadded, through the model's own
  ``quantize_dynamic`` Linear layers, LayerNorms and embeddings, so every activation scale is its own;
- several texts (:class:`PackedInt8Encoder`): the texts are packed into one unpadded matrix; each
  Linear quantises each text's rows with that text's own parameters (``torch._choose_qparams_per_tensor``
  and ``torch.quantize_per_tensor``, what ``quantized::linear_dynamic`` uses inside), runs one integer
  matmul (``torch._int_mm``) for all texts, and dequantises as fbgemm does (``fma(float(acc),
  scale_x * scale_w, bias)``, emulated exactly in double). Attention and pooling run per text. The int8
  weights are read once per call instead of once per text.

Both equal, bit for bit, what the Hugging Face module gives for the text embedded alone, which is what
the shipped heads were fitted on up to the old batch-mate noise. Nothing new is built or stored. The
packed path quantises each layer's input once for query, key and value and runs one matmul for the
three (11% faster on a long prompt, the same bits: integer sums are exact and each keeps its own scale).
Figures: docs/benchmarks-safety.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


class PerTextInt8Encoder:
    """Mean-pooled, L2-normalised embeddings, one text per forward pass (see the module doc).

    ``model`` is a BERT-style ``AutoModel`` passed through ``quantize_dynamic``. Call it under the
    classifier's lock: one call at a time.
    """

    def __init__(self, model: Any) -> None:
        cfg = model.config
        if getattr(cfg, "hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {cfg.hidden_act!r}")
        if getattr(cfg, "position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        self.hidden = int(cfg.hidden_size)
        self.heads = int(cfg.num_attention_heads)
        self.eps = float(cfg.layer_norm_eps)
        self.embeddings = model.embeddings
        self.layers = list(model.encoder.layer)

    def __call__(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Embeddings (N x hidden) for token id lists (special tokens included, no padding)."""
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        for i, row in enumerate(ids):
            out[i] = self.one(row)
        return out

    def one(self, ids: Sequence[int]) -> np.ndarray:
        """The embedding of one text (its token ids, special tokens included)."""
        import torch
        from torch.nn.functional import gelu, layer_norm, normalize

        n, d, emb = len(ids), self.hidden, self.embeddings
        with torch.inference_mode():
            # The same order of additions as transformers' BertEmbeddings (token type 0 throughout).
            x = emb.word_embeddings.weight[torch.tensor(list(ids))] + emb.token_type_embeddings.weight[0]
            x = x + emb.position_embeddings.weight[:n]
            x = layer_norm(x, (d,), emb.LayerNorm.weight, emb.LayerNorm.bias, self.eps)
            for layer in self.layers:
                att = layer.attention
                ctx = self._attention(att.self.query(x), att.self.key(x), att.self.value(x))
                out = att.output
                x = layer_norm(out.dense(ctx) + x, (d,), out.LayerNorm.weight, out.LayerNorm.bias, self.eps)
                h = gelu(layer.intermediate.dense(x))
                out = layer.output
                x = layer_norm(out.dense(h) + x, (d,), out.LayerNorm.weight, out.LayerNorm.bias, self.eps)
            return normalize(x.mean(0), p=2, dim=0).numpy()

    def _attention(self, q: Any, k: Any, v: Any) -> Any:
        """Full self-attention over one text (no mask: nothing is padded)."""
        import torch

        n, d = q.shape[0], self.hidden // self.heads
        q, k, v = (t.view(1, n, self.heads, d).transpose(1, 2) for t in (q, k, v))
        ctx = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(d))
        return ctx.transpose(1, 2).reshape(n, self.hidden)


class _Packing:
    """Row ranges of the texts in a packed (tokens x features) matrix, and each row's text index."""

    def __init__(self, lengths: Sequence[int]) -> None:
        import torch

        self.lengths = list(lengths)
        self.lengths_t = torch.tensor(self.lengths, dtype=torch.long)
        self.starts = [0]
        for n in self.lengths:
            self.starts.append(self.starts[-1] + n)
        self.rows = torch.repeat_interleave(torch.arange(len(self.lengths)), self.lengths_t)


class PackedInt8Encoder(PerTextInt8Encoder):
    """All texts of a call packed into one unpadded matrix, one integer matmul per Linear (module doc).

    Still a function of each text alone; faster than :class:`PerTextInt8Encoder` for many texts, since
    the int8 weights are read once per call instead of once per text."""

    max_rows = 512  # tokens per pack: 512 beat 128, 256 and unbounded on 160 chunks (2026-12-02)

    def __init__(self, model: Any) -> None:
        import torch

        super().__init__(model)
        self._weights: dict[int, tuple[Any, float, Any]] = {}
        self._qkv: dict[int, tuple[Any, list[tuple[float, Any]]]] = {}
        for layer in self.layers:
            for mod in (
                layer.attention.self.query,
                layer.attention.self.key,
                layer.attention.self.value,
                layer.attention.output.dense,
                layer.intermediate.dense,
                layer.output.dense,
            ):
                w, b = mod._packed_params._weight_bias()
                self._weights[id(mod)] = (w.int_repr().t().contiguous(), float(w.q_scale()), b.detach())
            # Query, key and value read the same input, so its quantisation (per text) is shared and one
            # integer matmul serves all three; each keeps its own weight scale and bias when dequantised.
            att = layer.attention.self
            parts = [self._weights[id(m)] for m in (att.query, att.key, att.value)]
            fused = torch.cat([w for w, _, _ in parts], dim=1).contiguous()
            self._qkv[id(layer)] = (fused, [(s, b) for _, s, b in parts])

    def __call__(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        import torch
        from torch.nn.functional import layer_norm, normalize

        if len(ids) <= 1:  # one text: the module path is faster, and gives the same bits
            return super().__call__(ids)
        total = sum(len(i) for i in ids)
        if total > self.max_rows:
            # Packs of at most max_rows tokens: the elementwise passes stay in cache. Each text's result
            # is its own whatever pack it lands in.
            out, start, rows = [], 0, 0
            for end, row in enumerate(ids):
                if rows and rows + len(row) > self.max_rows:
                    out.append(self(ids[start:end]))
                    start, rows = end, 0
                rows += len(row)
            out.append(self(ids[start:]))
            return np.concatenate(out)
        pack, d, emb = _Packing([len(i) for i in ids]), self.hidden, self.embeddings
        flat = torch.tensor([t for row in ids for t in row], dtype=torch.long)
        positions = torch.cat([torch.arange(n) for n in pack.lengths])
        with torch.inference_mode():
            x = emb.word_embeddings.weight[flat] + emb.token_type_embeddings.weight[0]
            x = x + emb.position_embeddings.weight[positions]
            x = layer_norm(x, (d,), emb.LayerNorm.weight, emb.LayerNorm.bias, self.eps)
            for layer in self.layers:
                x = self._layer(x, layer, pack)
            spans = zip(pack.starts, pack.lengths, strict=False)
            pooled = torch.stack([x[s : s + n].mean(0) for s, n in spans])
            return normalize(pooled, p=2, dim=1).numpy()

    def _layer(self, x: Any, layer: Any, pack: _Packing) -> Any:
        """One BERT layer over the packed rows; attention per text."""
        import torch
        from torch.nn.functional import gelu, layer_norm

        att, d = layer.attention, self.hidden
        q, k, v = self._qkv_linear(x, layer, pack)
        spans = zip(pack.starts, pack.lengths, strict=False)
        ctx = torch.cat([self._attention(q[s : s + n], k[s : s + n], v[s : s + n]) for s, n in spans])
        out = att.output
        x = layer_norm(
            self._linear(ctx, out.dense, pack) + x, (d,), out.LayerNorm.weight, out.LayerNorm.bias, self.eps
        )
        h = gelu(self._linear(x, layer.intermediate.dense, pack))
        out = layer.output
        return layer_norm(
            self._linear(h, out.dense, pack) + x, (d,), out.LayerNorm.weight, out.LayerNorm.bias, self.eps
        )

    def _linear(self, x: Any, mod: Any, pack: _Packing) -> Any:
        """``mod(x)`` as if each text's rows were passed alone: fbgemm's dynamic int8 Linear, emulated."""
        weight, w_scale, bias = self._weights[id(mod)]
        q, scale = self._quantize(x, pack)
        return self._dequantize(self._matmul(q, weight), scale, w_scale, bias, pack)

    def _qkv_linear(self, x: Any, layer: Any, pack: _Packing) -> list[Any]:
        """Query, key and value of one layer: one quantisation of ``x`` and one matmul for all three."""
        fused, parts = self._qkv[id(layer)]
        q, scale = self._quantize(x, pack)
        acc = self._matmul(q, fused)
        width = acc.shape[1] // len(parts)
        return [
            self._dequantize(acc[:, i * width : (i + 1) * width], scale, w_scale, bias, pack)
            for i, (w_scale, bias) in enumerate(parts)
        ]

    @staticmethod
    def _quantize(x: Any, pack: _Packing) -> tuple[Any, np.ndarray]:
        """Each text's rows quantised with its own parameters, zero point subtracted (float32 values in
        [-255, 255]), and the per-text scales."""
        import torch

        lo = torch.segment_reduce(x.amin(1), "min", lengths=pack.lengths_t).numpy()
        hi = torch.segment_reduce(x.amax(1), "max", lengths=pack.lengths_t).numpy()
        scale, zp = _qparams(lo, hi)
        rows = pack.rows
        inv = torch.from_numpy(np.float32(1.0) / scale)[rows, None]
        zp_rows = torch.from_numpy(zp.astype(np.float32))[rows, None]
        # quantize_per_tensor: round(fma(x, 1/scale, zero point)) clipped to [0, 255]. torch's float32
        # addcmul kernel is a fused multiply-add (checked bit for bit by tests/test_safety_encoder.py).
        # In place after the first pass: the passes over a long prompt's rows are a third of this time.
        q = torch.addcmul(zp_rows, x, inv).round_().clamp_(0, 255).sub_(zp_rows)
        # The quantised range of each text follows from its min and max (rounding is monotonic).
        inv64, zp64 = (np.float32(1.0) / scale).astype(np.float64), zp.astype(np.float64)
        q_hi = np.clip(np.rint((hi.astype(np.float64) * inv64 + zp64).astype(np.float32)), 0, 255) - zp64
        q_lo = np.clip(np.rint((lo.astype(np.float64) * inv64 + zp64).astype(np.float32)), 0, 255) - zp64
        if q_lo.min() >= -128 and q_hi.max() <= 127:
            return q.to(torch.int8), scale
        return q, scale  # a value rounded past int8 (fbgemm keeps uint8 minus the zero point)

    @staticmethod
    def _matmul(q: Any, weight: Any) -> Any:
        """The integer matmul as float32 (exact: int32 sums of int8 products, in double when past int8)."""
        import torch

        if q.dtype == torch.int8:
            return torch._int_mm(q, weight).float()
        return (q.double() @ weight.double()).float()

    @staticmethod
    def _dequantize(acc: Any, scale: np.ndarray, w_scale: float, bias: Any, pack: _Packing) -> Any:
        """fbgemm's dequantisation: fma(float(acc), scale_x * scale_w, bias)."""
        import torch

        deq = torch.from_numpy(scale * np.float32(w_scale))[pack.rows, None]
        return torch.addcmul(bias, acc, deq)


_SMALL_SCALE = 6.1e-5  # torch's SMALL_SCALE_THRESHOLD in ChooseQuantizationParams


def _qparams(x_min: np.ndarray, x_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-text scale (float32) and zero point from each text's min and max, as
    ``torch._choose_qparams_per_tensor(x, reduce_range=True)`` picks them (fbgemm's
    ``ChooseQuantizationParams``: qmax 127, in double); its rare tiny-scale case is asked of torch."""
    import torch

    lo = np.minimum(x_min.astype(np.float64), 0.0)
    hi = np.maximum(x_max.astype(np.float64), 0.0)
    scale = (hi - lo) / 127
    with np.errstate(divide="ignore"):
        bad = (scale.astype(np.float32) == 0) | np.isinf(np.float32(1.0) / scale.astype(np.float32))
    scale = np.where(bad, 0.1, scale)
    zp_min, zp_max = 0 - lo / scale, 127 - hi / scale
    err_min, err_max = 0 - np.abs(lo / scale), 127 - np.abs(hi / scale)
    zp = np.where(err_min < err_max, zp_min, zp_max)
    zp = np.where(zp < 0, 0.0, np.where(zp > 127, 127.0, np.rint(zp)))
    scale32 = scale.astype(np.float32)
    for i in np.flatnonzero(scale < _SMALL_SCALE):
        s, z = torch._choose_qparams_per_tensor(torch.tensor([x_min[i], x_max[i]]), True)
        scale32[i], zp[i] = np.float32(s), float(z)
    return scale32, zp
