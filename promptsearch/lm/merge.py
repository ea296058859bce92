"""One KV cache for a batch whose lanes come from several prefix groups (HFLM._score_merged).

A call that scores k candidate prompts (--parallel-candidates) has k prefix groups; on a GPU one
group's lanes (50-200 examples) are far below the batch the hardware wants, so lanes of several
groups share a forward. Each lane must attend to its own group's prefix:

    keys [B, n_kv_heads, P, head_dim], P = the longest prefix in the batch
    lane b:  [ prefix of its group (p_b slots) | zeros (P - p_b) ]   then its suffix tokens

The zero slots are never attended: HFLM._lane_inputs masks prefix slot j for lane b when
j >= p_b and starts lane b's positions at p_b, so every token computes what it computes in its
own group's batch (RoPE was applied to the prefix keys when they were computed, at their true
positions). Unlike the one-group path (an expand() view), this copies each prefix once per lane:
B x P x (2 x n_layers x n_kv_heads x head_dim) values, small next to the forward on a GPU.
Each group's prefix is padded once, then gathered
per lane. Only plain DynamicLayer caches (no sliding windows, which never pack anyway) are built here.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


def merged_cache(config, kvs: Sequence, lane_group: Sequence[int]) -> DynamicCache | None:
    """A cache of len(lane_group) rows; row b holds kvs[lane_group[b]] (a KV of per-layer (keys,
    values), each [1, n_kv_heads, p, head_dim], or None for an empty prefix), right-padded with
    zeros to the longest. None when every prefix is empty."""
    P = max((kv.length for kv in kvs if kv is not None), default=0)
    if P == 0:
        return None
    ref = next(kv for kv in kvs if kv is not None)
    index = torch.tensor(lane_group, device=ref[0][0].device)
    cache = DynamicCache(config=config)
    for i, layer in enumerate(cache.layers):
        if type(layer) is not DynamicLayer:
            raise NotImplementedError("merged prefixes need plain DynamicLayer caches")
        padded = []
        for j in (0, 1):  # keys, values
            x = ref[i][j].new_zeros((len(kvs), ref[i][j].shape[1], P, ref[i][j].shape[3]))  # [G, h, P, d]
            for g, kv in enumerate(kvs):
                if kv is not None:
                    x[g, :, :kv[i][j].shape[2]] = kv[i][j][0]
            padded.append(x.index_select(0, index))  # [B, n_kv_heads, P, head_dim]
        layer.lazy_initialization(*padded)
        layer.keys, layer.values = padded
    return cache
