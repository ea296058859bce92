"""Language models behind one narrow interface (base.py).

`load_lm(spec)` (loading.py) returns an `HFLM` (hf.py): a local Hugging Face causal LM with a
prefix-sharing scoring engine (plan.py) and a batched KV-cached generator (generation.py).
torch and transformers are imported only when a local model is actually used.
"""
from __future__ import annotations

from promptsearch.lm.base import (GenerateRequest, GenerateResult, LM, LoglikelihoodRequest,
                                  LoglikelihoodResult)

__all__ = ["GenerateRequest", "GenerateResult", "HFLM", "LM", "LoglikelihoodRequest",
           "LoglikelihoodResult", "load_lm"]


def __getattr__(name: str):
    if name == "load_lm":
        from promptsearch.lm.loading import load_lm

        return load_lm
    if name == "HFLM":
        from promptsearch.lm.hf import HFLM

        return HFLM
    raise AttributeError(f"module 'promptsearch.lm' has no attribute {name!r}")
