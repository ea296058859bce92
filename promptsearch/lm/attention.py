"""SDPA with grouped-query attention kept grouped on CPU.

transformers' "sdpa" attention repeats each key/value head for its query heads (`repeat_kv`)
whenever an attention mask is given, except on XPU/MPS: on CPUs that is three copies of the
whole [B, n_kv_heads, P+T, head_dim] cache per layer (SmolLM2: 9 query heads share 3 KV heads),
and the scoring engine always has a mask (the cached prefix offsets queries from keys).
PyTorch's CPU flash kernel takes `enable_gqa=True` with a mask and is ~3x faster at the same
result. Everything else is transformers' own SDPA path, and masks are built exactly as for "sdpa".
"""
from __future__ import annotations

import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

NAME = "promptsearch_sdpa"


def use_grouped_sdpa(model) -> bool:
    """Switch `model` from "sdpa" to this attention. Other implementations are left alone."""
    if model.config._attn_implementation != "sdpa":
        return False
    AttentionInterface.register(NAME, attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
    return True


def attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """query [B, H, T, D]; key/value [B, H_kv, T_kv, D]; returns [B, T, H, D] like sdpa_attention_forward."""
    groups = getattr(module, "num_key_value_groups", 1)
    if query.device.type == "cpu" and attention_mask is not None and groups > 1 and not module.training \
            and kwargs.get("position_bias") is None and kwargs.get("softcap") is None:
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, scale=scaling,
                                             enable_gqa=True)
        return out.transpose(1, 2).contiguous(), None
    return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                  scaling=scaling, **kwargs)
