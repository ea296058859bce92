"""The CPU grouped-query SDPA path equals transformers' own SDPA (which repeats KV heads)."""
from __future__ import annotations

import types

import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from promptsearch.lm import attention
from promptsearch.lm.base import LOGPROB_TOLERANCE


def test_grouped_sdpa_equals_transformers_sdpa():
    torch.manual_seed(0)
    b, h, hkv, t, p, d = 2, 9, 3, 5, 7, 16
    q, k, v = torch.randn(b, h, t, d), torch.randn(b, hkv, p + t, d), torch.randn(b, hkv, p + t, d)
    mask = torch.ones(t, p + t, dtype=torch.bool).tril(p)[None, None].expand(b, 1, t, p + t).clone()
    mask[1, :, :, p:p + 2] = False  # some padded keys
    module = types.SimpleNamespace(num_key_value_groups=h // hkv, training=False, is_causal=True)
    got, _ = attention.attention(module, q, k, v, mask, scaling=d ** -0.5)
    want, _ = sdpa_attention_forward(module, q, k, v, mask, scaling=d ** -0.5)
    assert got.shape == want.shape == (b, t, h, d)
    # one layer of the engine, on values of order 1: within the engine's log-prob promise (a wrong
    # mask or key-value grouping is off by ~0.1)
    assert torch.allclose(got, want, atol=LOGPROB_TOLERANCE, rtol=0)
