"""Registries: the one place a name (in a task file, a search space, a flag or a database row)
turns into the object that implements it.

Every concept users extend -- metrics, strategies, samplers and pruners, export formats, LM
backends -- keeps one `Registry` in the module that owns it, and each implementation registers
itself next to its definition:

    METRICS = Registry("metric")

    @METRICS.register("exact_match")
    class ExactMatch: ...

Adding one is a new module plus one `@register` line. A built-in registers by being imported by
its own package (`promptsearch/strategies/__init__.py` imports every strategy module, ...), so the
registry is complete however it is reached, with no second list to edit. Anything else is a
plug-in module (promptsearch/plugins.py: an entry point, `--plugin MODULE` or
$PROMPTSEARCH_PLUGINS), imported by every command, worker and resume. Names are what the database
stores, so a renamed implementation keeps its registered name and old searches resume.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from promptsearch.errors import ConfigError, excerpt

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with a decorator to fill it and errors that list the names."""

    def __init__(self, kind: str):
        self.kind = kind  # "metric", "strategy", ...: used in error messages
        self._items: dict[str, T] = {}

    def register(self, name: str, *, replace: bool = False) -> Callable[[T], T]:
        """Decorator: `@REGISTRY.register("name")` above a class or function."""
        def add(obj: T) -> T:
            self.add(name, obj, replace=replace)
            return obj
        return add

    def add(self, name: str, obj: T, *, replace: bool = False) -> None:
        if not name or name != name.strip():
            raise ValueError(f"a {self.kind} needs a non-empty name without surrounding spaces, got {name!r}")
        if name in self._items and not replace and self._items[name] is not obj:
            raise ValueError(f"{self.kind} '{name}' is already registered ({self._items[name]!r}); "
                             f"pass replace=True to override it")
        self._items[name] = obj

    def remove(self, name: str) -> None:
        """Forget `name` (a test that registers a throwaway implementation cleans up with it)."""
        self._items.pop(name, None)

    def get(self, name: str, where: str | None = None) -> T:
        """The object registered as `name`; a one-line ConfigError naming `where` (a file and
        field, or a flag) and the registered names otherwise."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            prefix = f"{where}: " if where else ""
            raise ConfigError(f"{prefix}'{excerpt(name)}' is not a known {self.kind}; "
                              f"allowed: {', '.join(self.names())}") from None

    def names(self) -> tuple[str, ...]:
        """Registered names in registration order: the built-ins in the order their package
        imports them, then plug-ins."""
        return tuple(name for name, _ in self.items())

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(list(self._items.items()))

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} registered)"
