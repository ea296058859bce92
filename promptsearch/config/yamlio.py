"""Strict YAML reading: every problem is one line naming the file, the field and what is allowed."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import yaml

from promptsearch.errors import ConfigError, NotFoundError


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """Load a YAML file whose top level must be a mapping."""
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"{p}: {what} file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text; save the {what} as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{where}: {problem}") from None
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
        return f"{self.source}: field '{self.prefix}{key}'"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(key)} {message}")

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = False,
            default: Any = None) -> Any:
        self.allowed.append(key)
        if key not in self.data or self.data[key] is None and not required:
            if required:
                raise self.error(key, "is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            allowed = " or ".join(type_name(k()) if k is not type(None) else "null" for k in kinds)
            raise self.error(key, f"must be {allowed}, got {type_name(value)}")
        return value

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
            raise self.error(key, f"is '{value}'; allowed: {', '.join(options)}")
        return value

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self.allowed]
        if unknown:
            raise ConfigError(f"{self.source}: unknown field '{self.prefix}{unknown[0]}'; "
                              f"allowed: {', '.join(self.prefix + a for a in self.allowed)}")
