"""Task data: examples read from JSONL or CSV, each with a stable content-derived id.

Several acceptable answers: in JSONL the output field may be a list of strings. The example then
keeps the first in `fields` (what prompts and demos show: render reads `example[task.output]`
as a string) and all of them in `references`, which metrics score against (the best one counts).
Its id covers the whole list; an example with a single string keeps the id it always had.
"""
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
    references: tuple[str, ...] = ()  # every acceptable output (empty: just fields[output])

    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def answers(self, output: str) -> tuple[str, ...]:
        """The acceptable outputs: `references`, or the output field alone."""
        return self.references or (self.fields[output],)


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
        refs = _references(row[task.output], f"{path}:{line}", task.output)
        if task.labels is not None:
            for ref in refs:
                if ref not in task.labels:
                    raise ConfigError(f"{path}:{line}: label '{ref}' is not in the task's labels "
                                      f"({', '.join(task.labels)})")
        if isinstance(row[task.output], list):  # the id covers every reference
            fields[task.output] = refs[0]
            ex = Example(example_id({**fields, task.output: list(refs)}), fields, refs)
        else:
            ex = Example(example_id(fields), fields, refs)
        examples.append(ex)
    return examples[:limit] if limit else examples


def _references(value, where: str, output: str) -> tuple[str, ...]:
    """The acceptable answers of one row: a string, or a non-empty list of non-empty strings."""
    if not isinstance(value, list):
        return (value if isinstance(value, str) else json.dumps(value),)
    if not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: field '{output}' must be a string or a non-empty list of non-empty "
                          f"strings (several acceptable answers)")
    return tuple(value)
