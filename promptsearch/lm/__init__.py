"""Language models behind one narrow interface (base.py).

`load_lm(spec)` (backends.py) gives the spec to the LM backend that claims it: `local` (loading.py)
returns an `HFLM` (hf.py), a local Hugging Face causal LM with a prefix-sharing scoring engine
(plan.py) and a batched KV-cached generator (generation.py); `remote` (remote.py) a `RemoteLM`
over a hosted or OpenAI-compatible API. torch and transformers are imported only when a local
model is actually used.
"""
from __future__ import annotations

from promptsearch.lm.backends import BACKENDS, load_lm
from promptsearch.lm.base import LM, GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult

# The built-in backends register by being imported here, in the order errors list them
# (`local` is asked last whatever the order: backends.py).
# isort: off
from promptsearch.lm import remote, loading  # noqa: F401
# isort: on

__all__ = [
    "BACKENDS",
    "HFLM",
    "LM",
    "GenerateRequest",
    "GenerateResult",
    "LoglikelihoodRequest",
    "LoglikelihoodResult",
    "load_lm",
]


def __getattr__(name: str):
    if name == "HFLM":
        from promptsearch.lm.hf import HFLM

        return HFLM
    raise AttributeError(f"module 'promptsearch.lm' has no attribute {name!r}")
