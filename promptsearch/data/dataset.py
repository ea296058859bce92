"""Task data: examples read from JSONL or CSV, each with a stable content-derived id."""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from promptsearch.config.task import TaskSpec
from promptsearch.errors import ConfigError


@dataclass(frozen=True)
class Example:
    id: str  # hash of the fields: stable across runs, so cached evaluations stay valid
    fields: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.fields[key]


def example_id(fields: dict[str, str]) -> str:
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, raw row) pairs."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: data file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 (byte {e.start}); save the data as UTF-8") from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        return [(i + 2, row) for i, row in enumerate(reader)]
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{i}: invalid JSON ({e.msg}); each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{i}: each line must be a JSON object, got {type(row).__name__}")
        rows.append((i, row))
    return rows


def load_split(task: TaskSpec, split: str, limit: int | None = None) -> list[Example]:
    """Read one split, keeping only the task's fields; check every row against the task."""
    path = task.split_path(split)
    rows = _read_rows(path)
    if not rows:
        raise ConfigError(f"{path}: the {split} split is empty; it needs at least one example")
    wanted = (*task.inputs, task.output)
    examples = []
    for line, row in rows:
        fields = {}
        for name in wanted:
            value = row.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ConfigError(f"{path}:{line}: missing field '{name}' (the task reads {', '.join(wanted)})")
            fields[name] = value if isinstance(value, str) else json.dumps(value)
        if task.labels is not None and fields[task.output] not in task.labels:
            raise ConfigError(f"{path}:{line}: label '{fields[task.output]}' is not in the task's labels "
                              f"({', '.join(task.labels)})")
        examples.append(Example(id=example_id(fields), fields=fields))
    return examples[:limit] if limit else examples
