"""LM backends: which code loads a model spec, and `load_lm`, the one way to load a model.

A backend is registered in `BACKENDS` under a name, next to its code:

    @BACKENDS.register("remote")
    class RemoteBackend:
        claims = staticmethod(is_remote_spec)   # does this spec belong to me?
        load = staticmethod(load_remote)        # load(spec, **options) -> LM

`load_lm` gives the spec to the first backend that claims it, in registration order, with
`local` (loading.py: the embedded model, Hugging Face checkpoint folders, .gguf files) always
last: it takes every spec no other backend claims, so its errors say what a spec may be. Every
backend gets every option and uses those it knows (device, dtype and batch_size are local
ones; api_base, api_key, concurrency, num_retries and timeout remote ones).
"""
from __future__ import annotations

from typing import Any, Protocol

from promptsearch.errors import ConfigError
from promptsearch.lm.base import LM
from promptsearch.registry import Registry

FALLBACK = "local"  # claims every spec; asked last


class Backend(Protocol):
    def claims(self, spec: str | None) -> bool: ...

    def load(self, spec: str | None, **options: Any) -> LM: ...


BACKENDS: Registry[Backend] = Registry("LM backend")


def load_lm(spec: str | None = None, *, device: str | None = None, dtype: str | None = None,
            batch_size: int = 32, api_base: str | None = None, **options: Any) -> LM:
    """A model for scoring and generation: "smollm2" (or None: the embedded model), a local
    checkpoint folder or .gguf file, or a remote "provider/model" (e.g. "openai/gpt-4o-mini";
    `api_base` for an OpenAI-compatible server). See the module docstring for the options."""
    name = backend_for(spec)
    if api_base is not None and name == FALLBACK:  # silently ignoring it would search another model
        raise ConfigError(f"--api-base: model '{spec or 'smollm2'}' is local, so it takes no --api-base; "
                          f"drop --api-base, or name the server's model as provider/model, e.g. openai/NAME")
    backend = BACKENDS.get(name)
    return backend.load(spec, device=device, dtype=dtype, batch_size=batch_size, api_base=api_base, **options)


def backend_for(spec: str | None) -> str:
    """The name of the backend that loads `spec`: the first that claims it, `local` last."""
    ordered = [name for name in BACKENDS.names() if name != FALLBACK] + [FALLBACK]
    return next(name for name in ordered if BACKENDS.get(name).claims(spec))
