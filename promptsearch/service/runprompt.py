"""`promptsearch run`: a found prompt (a search's trial, or an exported JSON file) applied to new
inputs exactly as it was scored (export/runnable.py), one JSON line per input."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.limits import check_int
from promptsearch.data.dataset import read_rows
from promptsearch.errors import ConfigError, UserError
from promptsearch.export.formats import export_record
from promptsearch.export.runnable import Prediction, RunnablePrompt, from_record, load_prompt
from promptsearch.lm.base import LM
from promptsearch.search.examples import complete_trial
from promptsearch.search.results import Entry
from promptsearch.service import models
from promptsearch.service.files import check_output, write_output
from promptsearch.service.hooks import QUIET, Hooks
from promptsearch.service.searches import open_store, record_of
from promptsearch.storage.store import SearchRecord, Store, trial_score


@dataclass
class RunOutput:
    prompt: RunnablePrompt
    predictions: list[Prediction]
    model: str  # the model it ran on
    path: Path | None  # the -o file written, if any

    @property
    def text(self) -> str:
        return "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in self.predictions)


def is_prompt_file(source: str) -> bool:
    return source.lower().endswith(".json") or Path(source).is_file()


def runnable(db: Store | str, source: str | SearchRecord, trial: int | None = None) -> RunnablePrompt:
    """A search's best trial (or `trial`), or a prompt JSON file, as a RunnablePrompt."""
    if isinstance(source, str) and is_prompt_file(source):
        if trial is not None:
            raise UserError(f"--trial: {source} is one exported prompt; --trial picks a trial of a search by name")
        return load_prompt(source)
    if trial is not None:
        check_int("--trial", trial, "trial")
    store = open_store(db, read_only=True)
    record = record_of(store, source)
    t = complete_trial(store, record, trial)
    row = store.candidates.get(record.id, t.user_attrs.get("prompt_hash", ""))
    if row is None:
        raise UserError(f"trial {t.number} of search '{record.name}' has no stored candidate")
    data = json.loads(json.dumps(export_record(store, record, Entry(t.number, trial_score(t), row))))
    return from_record(data, f"search '{record.name}' trial {t.number}")  # the same path as an exported file


def read_inputs(path: str, flag: str = "--input") -> tuple[str, list[int], list[dict[str, Any]]]:
    """(where, line numbers, rows) of a JSONL or CSV file, or JSONL on standard input ('-')."""
    if path == "-":
        where, rows = "<stdin>", read_rows(Path("<stdin>"), sys.stdin.read())
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{flag} {path}: no such file; give a JSONL or CSV file, or - for standard input")
        where, rows = str(p), read_rows(p)
    if not rows:
        raise ConfigError(f"{flag} {where}: no input rows")
    return where, [line for line, _ in rows], [row for _, row in rows]


def run_prompt(db: Store | str, source: str | SearchRecord, inputs: str | list[dict[str, Any]], *,
               trial: int | None = None, model: str | None = None, output: str | Path | None = None,
               overwrite: bool = False, lm: LM | None = None, hooks: Hooks = QUIET,
               on_progress: Callable[[int, int], None] | None = None) -> RunOutput:
    """Apply the prompt to `inputs` (a file path, '-', or a list of dicts). Everything is checked
    (prompt, inputs, output file) before the model loads; the -o file is written at the end."""
    prompt = runnable(db, source, trial)
    if isinstance(inputs, str):
        where, lines, rows = read_inputs(inputs)
    else:
        where, lines, rows = "inputs", list(range(1, len(inputs) + 1)), list(inputs)
    prompt.examples(rows, where, lines)  # a missing field: one line, before the model loads
    target = check_output(output, overwrite=overwrite) if output is not None else None
    spec = prompt.model if model is None else models.stored_spec(model)
    same = spec == prompt.model
    if lm is None:
        s = prompt.data["model_spec"]
        with hooks.status(f"loading model {spec} …"):
            lm = models.load_model(spec, device=s.get("device"), dtype=s.get("dtype"),
                                   batch_size=s.get("batch_size") or 32, api_base=s.get("api_base") if same else None)
    models.check_model(prompt.task, lm, spec)
    predictions = prompt.predict(rows, lm, same_model=same, on_progress=on_progress)
    out = RunOutput(prompt, predictions, spec, target)
    if target is not None:
        write_output(target, out.text)
    return out
