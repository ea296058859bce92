"""Strict YAML reading: every problem is one line naming the file, the field and what is allowed.

YAML aliases let a few hundred bytes stand for gigabytes once expanded (`a: &a [x, x]`,
`b: &b [*a, *a]`, ...). The parsed document stays small (aliases share nodes), but anything that
walks it - storing the space, quoting a value in an error - would do the expanded work. So a
document whose expansion exceeds MAX_NODES nodes, or that refers to itself, is refused before it is
constructed. A key repeated in one mapping is an error too, not "the last one wins".
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, overload

import yaml

from promptsearch.config.lookalike import explain
from promptsearch.errors import ConfigError, NotFoundError, excerpt

MAX_NODES = 100_000  # nodes of the fully expanded document; the bundled files have a few hundred
_MERGE = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (merge keys `<<` may still be overridden)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key '{excerpt(key, 40)}' appears twice in one mapping", key_node.start_mark)
                    seen.add(key)
                except TypeError:
                    pass  # an unhashable key: SafeConstructor reports it
        return super().construct_mapping(node, deep)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes of the document with every alias expanded, counted without expanding (a node shared
    by aliases is counted once per use from a memo). Raises ConfigError on a self-reference."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = min(1 + sum(sizes[id(c)] for c in _children(node)), MAX_NODES + 1)
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ConfigError("an alias refers to the mapping or list that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def parse_yaml(text: str) -> Any:
    """Parse one YAML document with the bounds above; yaml.YAMLError or ConfigError (no file name)."""
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise ConfigError(f"its aliases expand to more than {MAX_NODES} values; write the values out "
                              f"or use fewer nested aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Load a YAML file whose top level must be a mapping."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: {what} file not found")
    try:
        data = parse_yaml(p.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text; save the {what} as UTF-8") from None
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{where}: {excerpt(problem, 120)}") from None
    except RecursionError:
        raise ConfigError(f"{p}: invalid YAML: nested too deeply; a {what} needs a few levels at most") from None
    except ValueError as e:  # a scalar its constructor refuses: 5000 digits, 2024-13-45
        raise ConfigError(f"{p}: invalid YAML: a value cannot be read ({excerpt(str(e), 60)})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a {what} must be a YAML mapping of keys, got {type_name(data)}")
    return data


def type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


class Fields:
    """Reads a mapping's keys one by one; `done()` rejects any key that was not read."""

    def __init__(self, data: dict[str, Any], source: str | Path, prefix: str = ""):
        self.data, self.source, self.prefix = data, str(source), prefix
        self.allowed: list[str] = []

    def where(self, key: str) -> str:
        return f"{self.source}: field '{self.prefix}{excerpt(key, 40)}'"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(key)} {message}")

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = False,
            default: Any = None) -> Any:
        self.allowed.append(key)
        if key not in self.data or (self.data[key] is None and not required):
            if required:
                raise self.error(key, "is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            allowed = " or ".join(type_name(k()) if k is not type(None) else "null" for k in kinds)
            raise self.error(key, f"must be {allowed}, got {type_name(value)}")
        return value

    @overload
    def str_list(self, key: str, *, required: Literal[True], allow_null: bool = ...,
                 allow_blank: bool = ..., non_empty: bool = ...) -> list[Any]: ...

    @overload
    def str_list(self, key: str, *, required: bool = ..., allow_null: bool = ...,
                 allow_blank: bool = ..., non_empty: bool = ...) -> list[Any] | None: ...

    def str_list(self, key: str, *, required: bool = False, allow_null: bool = False,
                 allow_blank: bool = False, non_empty: bool = True) -> list[Any] | None:
        value = self.get(key, list, required=required)
        if value is None:
            return None
        if non_empty and not value:
            raise self.error(key, "must not be an empty list")
        for i, item in enumerate(value):
            if item is None and allow_null:
                continue
            if not isinstance(item, str) or not (item.strip() or allow_blank):
                kind = "a string" if allow_blank else "a non-empty string"
                extra = " or null" if allow_null else ""
                got = "an empty string" if isinstance(item, str) else type_name(item)
                raise self.error(f"{key}[{i}]", f"must be {kind}{extra}, got {got}")
        return value

    def choice(self, key: str, choices: Iterable[str], *, default: str | None = None) -> str:
        value = self.get(key, str, required=default is None, default=default)
        options = list(choices)
        if value not in options:
            raise self.error(key, f"is '{excerpt(value)}'; allowed: {', '.join(options)}")
        return value

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self.allowed]
        if unknown:
            key = unknown[0]
            why = explain(key, self.allowed) if isinstance(key, str) else ""
            raise ConfigError(f"{self.source}: unknown field '{self.prefix}{excerpt(key, 40)}'{why}; "
                              f"allowed: {', '.join(self.prefix + a for a in self.allowed)}")
