"""A prefix's key/value cache, shared by the scorer (hf.py) and echo scoring (echo.py)."""
from __future__ import annotations

import torch


class KV(list):
    """A prefix's cache: per layer (keys, values), each [1, n_kv_heads, P', head_dim], where P' is
    the prefix length P, or fewer on sliding-window layers (they keep the last window - 1 tokens);
    and P itself, the position the suffixes start at."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]], length: int):
        super().__init__(layers)
        self.length = length
