"""The loader that loads the models a run needs beside its task model (a judge, a proposer).

The service layer makes one loader per command (service/models.py `Models`) and installs it for
the command with `loading(...)`; the layers below ask it with `load(spec, api_base=...)`. So every
model comes from one injected place, a judge or proposer that names the task's own model reuses
the loaded one, and nothing is kept after the command: there is no process-wide model cache.
Outside such a scope (a lower layer used on its own) `load` loads with `load_lm`, every time.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Protocol

from promptsearch.lm.base import LM


class Loader(Protocol):
    def __call__(self, spec: str, *, api_base: str | None = None) -> LM: ...


_CURRENT: contextvars.ContextVar[Loader | None] = contextvars.ContextVar("promptsearch_loader", default=None)


@contextlib.contextmanager
def loading(loader: Loader) -> Iterator[Loader]:
    """`loader` loads the models asked for in this block (and the blocks it calls)."""
    token = _CURRENT.set(loader)
    try:
        yield loader
    finally:
        _CURRENT.reset(token)


def load(spec: str, *, api_base: str | None = None) -> LM:
    """A model by spec, from the command's loader."""
    loader = _CURRENT.get()
    if loader is not None:
        return loader(spec, api_base=api_base)
    from promptsearch.lm.backends import load_lm
    return load_lm(spec, api_base=api_base)
