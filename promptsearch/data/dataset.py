"""Task data: examples read from JSONL or CSV, each with a stable content-derived id.

Several acceptable answers: in JSONL the output field may be a list of strings. The example then
keeps the first in `fields` (what prompts and demos show: render reads `example[task.output]`
as a string) and all of them in `references`, which metrics score against (the best one counts).
Its id covers the whole list; an example with a single string keeps the id it always had.
"""
from __future__ import annotations

import contextlib
import contextvars
import csv
import hashlib
import io
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from promptsearch.config.limits import MAX_FIELD_CHARS
from promptsearch.config.lookalike import explain
from promptsearch.config.task import TaskSpec
from promptsearch.errors import ConfigError, excerpt


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


def example_id(fields: Mapping[str, object]) -> str:
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


# Within `read_once()` (one command's checks and run), each data file is parsed once: the
# checks, the data fingerprint, the dry run and the trials all see the same rows. Scoped to that
# context, never process-wide, so a later command reads the file as it is then.
_ROWS: contextvars.ContextVar[dict[tuple, list[tuple[int, dict]]] | None] = contextvars.ContextVar(
    "promptsearch_rows", default=None)


@contextlib.contextmanager
def read_once() -> Iterator[None]:
    """Inside this block each data file is read and parsed once (keyed by path, size and mtime)."""
    token = _ROWS.set({} if _ROWS.get() is None else _ROWS.get())  # nested blocks share the outer one
    try:
        yield
    finally:
        _ROWS.reset(token)


def _read_rows(path: Path) -> list[tuple[int, dict]]:
    """(line number, raw row) pairs; the number is the physical line the row starts on."""
    seen = _ROWS.get()
    if seen is None:
        return _parse_file(path)
    try:
        st = path.stat()
        key: tuple = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return _parse_file(path)  # missing or unreadable: _parse_file says so in one line
    if key not in seen:
        seen[key] = _parse_file(path)
    return seen[key]


def _parse_file(path: Path) -> list[tuple[int, dict]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a UTF-8 byte-order mark is not data
    except FileNotFoundError:
        raise ConfigError(f"{path}: data file not found") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 (byte {e.start}); save the data as UTF-8") from None
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, text)
    return _jsonl_rows(path, text)


def read_rows(path: Path, text: str | None = None) -> list[tuple[int, dict]]:
    """(line number, raw row) pairs of a JSONL or CSV file (by its suffix), or of `text` read
    from elsewhere (standard input: JSONL) shown as `path` in errors; one-line ConfigErrors."""
    if text is None:
        return _read_rows(path)
    return _csv_rows(path, text) if path.suffix.lower() == ".csv" else _jsonl_rows(path, text)


def _jsonl_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    # Split on "\n" only: str.splitlines() also splits on U+2028, U+0085, ... which JSON allows
    # raw inside a string. (A raw "\n" cannot be inside a JSON string, so this split is exact.)
    rows = []
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}:{i}: invalid JSON ({e.msg}); each line must be one JSON object") from None
        except (ValueError, RecursionError) as e:  # a repeated key, 5000 digits, 10000 nested lists
            what = str(e) if isinstance(e, _DuplicateKey) else "nested too deeply or a number too long"
            raise ConfigError(f"{path}:{i}: invalid JSON ({what}); each line must be one JSON object") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{i}: each line must be a JSON object, got {type(row).__name__}")
        _check_unicode(row, f"{path}:{i}")
        rows.append((i, row))
    return rows


def _check_unicode(row: dict, where: str) -> None:
    """JSON may escape half of a UTF-16 pair ("\\ud800") on its own: a string no UTF-8 file,
    tokenizer or database can hold. Found here, it is the data file's error, not a crash later."""
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        raise ConfigError(f"{where}: invalid text: a lone surrogate ({bad.encode('unicode_escape').decode()}) "
                          f"is half of a UTF-16 pair, not a character; fix or remove that \\u escape") from None


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    row = dict(pairs)
    if len(row) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(f"key '{excerpt(key, 40)}' appears twice")
    return row


def _csv_rows(path: Path, text: str) -> list[tuple[int, dict]]:
    """RFC 4180: quoted fields may hold commas, quotes and line breaks; every record has the
    header's number of fields."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        header = next(reader, None)
        if header is None:
            return []
        dup = next((h for i, h in enumerate(header) if h in header[:i]), None)
        if dup is not None:
            raise ConfigError(f"{path}:1: column '{excerpt(dup, 40)}' appears twice in the header")
        rows = []
        start = reader.line_num + 1
        for record in reader:
            if record and len(record) != len(header):
                raise ConfigError(f"{path}:{start}: {len(record)} fields, but the header has {len(header)}; "
                                  f"quote a field that contains a comma")
            if record:
                rows.append((start, dict(zip(header, record))))
            start = reader.line_num + 1
    except csv.Error as e:
        if "unexpected end of data" in str(e):  # strict: a quote opened and never closed
            raise ConfigError(f"{path}:{start}: a quoted field in the record that starts here is never closed "
                              f"(the file ends inside it); add the closing \" or write a quote inside a "
                              f"field as \"\"") from None
        raise ConfigError(f"{path}:{reader.line_num}: invalid CSV ({excerpt(str(e), 80)})") from None
    return rows


def field_value(value: object, where: str, name: str) -> str | None:
    """An input field's text: a non-empty string, or a number written as JSON writes it (3, 2.5).
    None when missing or blank; ConfigError for a list, mapping, boolean or non-finite number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return json.dumps(value)
    raise ConfigError(f"{where}: field '{excerpt(name, 40)}' must be a string (or a number), "
                      f"got {_kind(value)}")


def _kind(value: object) -> str:
    return {bool: "a boolean", list: "a list", dict: "an object", float: "a number that is not finite"}.get(
        type(value), type(value).__name__)


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
            if name in task.inputs:
                value = field_value(value, f"{path}:{line}", name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise _absent(row, name, f"{path}:{line}", wanted)
            if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
                raise ConfigError(f"{path}:{line}: field '{excerpt(name, 40)}' is {len(value):,} characters; at most "
                                  f"{MAX_FIELD_CHARS:,} per field (measured before any tokenizer sees it)")
            fields[name] = value if isinstance(value, str) else json.dumps(value)
        refs = _references(row[task.output], f"{path}:{line}", task.output)
        if task.labels is not None:
            for ref in refs:
                if ref not in task.labels:
                    raise ConfigError(f"{path}:{line}: label '{excerpt(ref)}' is not in the task's labels "
                                      f"({excerpt(', '.join(task.labels), 120)}){explain(ref, task.labels)}")
        if isinstance(row[task.output], list):  # the id covers every reference
            fields[task.output] = refs[0]
            ex = Example(example_id({**fields, task.output: list(refs)}), fields, refs)
        else:
            ex = Example(example_id(fields), fields, refs)
        examples.append(ex)
    return examples[:limit] if limit else examples


def _absent(row: dict, name: str, where: str, wanted: tuple[str, ...]) -> ConfigError:
    """A field the task reads that the row lacks, holds null, or holds only blanks: said as such."""
    if name in row:
        what = "is null" if row[name] is None else "is empty" if row[name] == "" else "holds only whitespace"
        return ConfigError(f"{where}: field '{excerpt(name, 40)}' {what}; every example needs a value")
    near = explain(name, [k for k in row if isinstance(k, str)])
    return ConfigError(f"{where}: missing field '{excerpt(name, 40)}' (the task reads "
                       f"{excerpt(', '.join(wanted), 120)}){near}")


def _references(value, where: str, output: str) -> tuple[str, ...]:
    """The acceptable answers of one row: a string, or a non-empty list of non-empty strings."""
    if not isinstance(value, list):
        return (value if isinstance(value, str) else json.dumps(value),)
    if not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: field '{output}' must be a string or a non-empty list of non-empty "
                          f"strings (several acceptable answers)")
    return tuple(value)
