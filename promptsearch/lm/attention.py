"""Shared-prefix attention: a batch of suffixes attends to one prefix KV cache that is never copied.

A scoring batch is B suffixes (T tokens each) behind the same P-token prefix. Expanding the prefix
KV cache to B rows costs B copies of it per layer, and masked SDPA over [prefix | suffix] keys is
slow on CPUs (it cannot use the grouped-query fast path). Instead, as in Hydragen (Juravsky et al.
2024), split the softmax over the two key blocks and merge them exactly:

    scores_p = q @ K_p^T   one matmul per KV head over all B*T queries: the prefix is shared,
                           so this is a real GEMM of M = B * T * (heads per KV head) rows
    scores_s = q @ K_s^T   per row, causal, T x T
    out = (exp(scores_p - m) @ V_p + exp(scores_s - m) @ V_s) / (sum of both exps)

with m the joint row max: the same arithmetic as a softmax over the concatenated keys, up to
float summation order. Models opt in by `use_prefix_attention(model)`; every other call (no
`prefix_kv` keyword) runs plain SDPA, with the grouped-query path forced on CPU.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

NAME = "promptsearch_prefix_sdpa"


def use_prefix_attention(model) -> bool:
    """Switch `model` to this attention if every layer is full attention (no sliding windows)."""
    cfg = model.config.get_text_config()
    types = set(getattr(cfg, "layer_types", None) or ["full_attention"])
    if types != {"full_attention"} or getattr(cfg, "use_sliding_window", False):
        return False
    AttentionInterface.register(NAME, attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)  # masks are built exactly as for "sdpa"
    model.set_attn_implementation(NAME)
    return True


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
              is_causal=None, prefix_kv=None, **kwargs):
    """HF attention-interface function. query [B, H, T, D]; key/value [B, H_kv, T_kv, D].
    Returns [B, T, H, D] like sdpa_attention_forward."""
    if prefix_kv is None:
        if query.device.type == "cpu" and attention_mask is not None and module.num_key_value_groups > 1:
            # CPU SDPA supports grouped-query attention with a mask: 3x faster than repeat_kv
            out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                                 scale=scaling, enable_gqa=True)
            return out.transpose(1, 2).contiguous(), None
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, is_causal=is_causal, **kwargs)
    if attention_mask is not None:
        raise ValueError("prefix attention takes right-padded suffixes and no attention mask")
    kp, vp = prefix_kv[module.layer_idx]
    out = prefix_suffix_attention(query, key, value, kp, vp, scaling or query.shape[-1] ** -0.5)
    return out.transpose(1, 2).contiguous(), None


def prefix_suffix_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, kp: torch.Tensor,
                            vp: torch.Tensor, scale: float) -> torch.Tensor:
    """Causal attention of suffix queries over [shared prefix | own suffix] keys.

    q [B, H, T, D]; k, v [B, Hkv, T, D] (the suffix's own); kp, vp [1, Hkv, P, D] (shared).
    Returns [B, H, T, D]. Scores and softmax statistics are fp32 whatever the model dtype.
    """
    b, h, t, d = q.shape
    hkv, p = kp.shape[1], kp.shape[2]
    g = h // hkv  # query heads per KV head
    # Queries grouped by KV head: [Hkv, B*g*T, D]; query head j*g+i uses KV head j (HF's repeat_kv)
    qg = q.view(b, hkv, g, t, d).transpose(0, 1)  # [Hkv, B, g, T, D]
    s_p = torch.matmul(qg.reshape(hkv, b * g * t, d), kp[0].transpose(1, 2)).float() * scale  # [Hkv, M, P]
    s_p = s_p.view(hkv, b, g, t, p)
    s_s = torch.matmul(qg, k.transpose(0, 1)[:, :, None].transpose(-1, -2)).float() * scale  # [Hkv,B,g,T,T]
    causal = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    s_s = s_s.masked_fill(~causal, float("-inf"))
    m = torch.maximum(s_p.amax(-1, keepdim=True), s_s.amax(-1, keepdim=True))  # [Hkv, B, g, T, 1]
    e_p, e_s = torch.exp(s_p - m), torch.exp(s_s - m)
    denom = e_p.sum(-1, keepdim=True) + e_s.sum(-1, keepdim=True)  # [Hkv, B, g, T, 1]
    o_p = torch.matmul(e_p.to(vp.dtype).view(hkv, b * g * t, p), vp[0]).view(hkv, b, g, t, d)
    o_s = torch.matmul(e_s.to(v.dtype), v.transpose(0, 1)[:, :, None])  # [Hkv, B, g, T, D]
    out = (o_p.float() + o_s.float()) / denom  # [Hkv, B, g, T, D]
    return out.to(q.dtype).transpose(0, 1).reshape(b, h, t, d)
