"""A found prompt as something that runs: `promptsearch run` and `ps.load_prompt(...).predict(...)`.

What runs is what was scored. The JSON export (formats.py) carries, beside the prompt, everything
the search used to obtain an answer (`reproduction`): the stored task and space, the candidate's
parameters (strategy, format, demos), the decoding settings (max new tokens, label scoring) and the
model spec. Loading it rebuilds the candidate through search/rebuild.py -- the same rendering as
the search, checked against the stored prompt hash -- and answers go through the evaluator's
run_strategy, the code path that scored the trial; nothing here renders or decodes on its own.
Running from the database (`run NAME`) goes through the same JSON record, so both paths are one.

On another model (`--model`) the candidate is rendered with that model's chat template; the hash
check is then skipped (a chat layout differs by design), and per-input demos are refused.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, example_id, field_value
from promptsearch.errors import ConfigError, NotFoundError, UserError, excerpt
from promptsearch.evaluate.evaluator import run_strategy
from promptsearch.lm.base import LM
from promptsearch.render.prompt import Prompt
from promptsearch.search.rebuild import per_input_demos, rebuild_prompt, stored_candidate
from promptsearch.search.results import Entry
from promptsearch.search.runner import SearchSettings, decoding_for, render_candidate
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord
from promptsearch.strategies import strategy_from_params

FORMAT_VERSION = 2  # 1: the export before it could be run (no format_version field)
CHUNK = 64  # inputs per strategy run (the LM batches within it); progress is reported per chunk
_CANDIDATE = ("prompt_hash", "prompt", "answer_prefix", "instruction", "demos", "cot_trigger", "template", "params")


def reproduction(record: SearchRecord, entry: Entry) -> dict[str, Any]:
    """The fields of the JSON export that make it runnable without the database."""
    s = SearchSettings(**record.settings)
    params = dict(entry.candidate.params or {})
    return {"format_version": FORMAT_VERSION,
            "strategy": strategy_from_params(params).key(),
            "decoding": {"max_new_tokens": s.max_new_tokens, "label_scoring": s.label_scoring},
            "model_spec": {"model": record.model, "device": s.device, "dtype": s.dtype,
                           "batch_size": s.batch_size, "api_base": s.api_base},
            "task": record.task, "space": record.space, "settings": record.settings}


@dataclass(frozen=True)
class Prediction:
    inputs: dict[str, Any]  # the input row as given (every field, not only the prompt's)
    prediction: str
    probabilities: dict[str, float] | None  # label tasks ranked once: each label's, normalized over the labels
    label_task: bool = False  # its JSON line has `probabilities` (null where the strategy voted or extracted)

    def to_dict(self) -> dict[str, Any]:
        out = {**self.inputs, "prediction": self.prediction}
        if self.label_task:
            out["probabilities"] = self.probabilities
        return out


class RunnablePrompt:
    """A scored candidate that can be applied to new inputs (see the module docstring)."""

    def __init__(self, data: Mapping[str, Any], where: str):
        self.data, self.where = dict(data), where
        self.record = SearchRecord(id=0, name=str(data.get("name", "")), study_name="", task=data["task"],
                                   space=data["space"], model=str(data["model"]), settings=dict(data["settings"]),
                                   created=datetime.now(UTC))
        self.row = CandidateRow(**{k: data[k] for k in _CANDIDATE})
        self.task = TaskSpec.from_dict(data["task"])
        self.settings = SearchSettings(**data["settings"])

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def trial(self) -> int | None:
        return self.data.get("trial")

    def prompt_for(self, lm: LM, same_model: bool = True) -> Prompt:
        """The prompt as scored, rendered for `lm` (hash-checked on the search's own model)."""
        if same_model:
            return rebuild_prompt(self.record, self.row, lm=lm)
        if per_input_demos(self.row):
            raise UserError(f"{self.where}: the prompt picks its demonstrations per input with its model's "
                            f"embeddings ({self.model}); run it on that model")
        return render_candidate(stored_candidate(self.row), self.task, lm)

    def examples(self, rows: Sequence[Mapping[str, Any]], where: str = "input",
                 lines: Sequence[int] | None = None) -> list[Example]:
        """The input rows as examples, every field the prompt reads checked (one-line errors
        naming `where` and the row's line, or its 1-based position)."""
        out = []
        for i, row in zip(lines or range(1, len(rows) + 1), rows):
            fields = {}
            for name in self.task.inputs:
                value = field_value(row.get(name), f"{where}:{i}", name) if isinstance(row, Mapping) else None
                if value is None:
                    raise ConfigError(f"{where}:{i}: missing field '{excerpt(name, 40)}' (the prompt reads "
                                      f"{excerpt(', '.join(self.task.inputs), 120)})")
                fields[name] = value
            out.append(Example(example_id(fields), fields))
        return out

    def predict(self, inputs: Sequence[Mapping[str, Any]], lm: LM | None = None, *, same_model: bool | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> list[Prediction]:
        """Apply the prompt to `inputs` (dicts with the task's input fields) on `lm` (default:
        the search's model, loaded with its stored settings). `same_model`: whether `lm` is the
        model the prompt was scored with (default: True unless `lm` is given and its name differs)."""
        examples = self.examples(inputs)
        if lm is None:
            from promptsearch.lm import load_lm
            spec = self.data["model_spec"]
            lm = load_lm(self.model, device=spec.get("device"), dtype=spec.get("dtype"),
                            batch_size=spec.get("batch_size") or 32, api_base=spec.get("api_base"))
            same_model = True
        prompt = self.prompt_for(lm, True if same_model is None else same_model)
        decoding = decoding_for(self.settings)
        out: list[Prediction] = []
        for begin in range(0, len(examples), CHUNK):
            chunk = examples[begin:begin + CHUNK]
            traces = run_strategy(lm, self.task, prompt.strategy, list(zip(prompt.per_example(chunk), chunk)),
                                  decoding)
            labelled = self.task.is_classification
            out += [Prediction(dict(row), tr.prediction, self._probabilities(tr.label_scores), labelled)
                    for row, tr in zip(inputs[begin:begin + CHUNK], traces)]
            if on_progress is not None:
                on_progress(len(out), len(examples))
        return out

    def _probabilities(self, scores: tuple[float, ...] | None) -> dict[str, float] | None:
        """A softmax of the ranking scores: the labels' probabilities, normalized over the labels."""
        if scores is None or self.task.labels is None:
            return None
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        total = sum(weights)
        return {label: w / total for label, w in zip(self.task.labels, weights)}


def from_record(data: Mapping[str, Any], where: str) -> RunnablePrompt:
    """A JSON export's content, refused with one line unless it is of this format version."""
    version = data.get("format_version") if isinstance(data, Mapping) else None
    if version is None:
        raise ConfigError(f"{where}: exported by an older promptsearch (no format_version); export it again "
                          f"with `promptsearch export NAME --format json` to run or check it")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ConfigError(f"{where}: format_version {excerpt(version)} is {'newer' if newer else 'not one'} this "
                          f"promptsearch reads (it reads {FORMAT_VERSION}); "
                          + ("upgrade promptsearch" if newer else "export it again with `promptsearch export "
                                                                  "NAME --format json`"))
    missing = [k for k in (*_CANDIDATE, "task", "space", "settings", "model", "model_spec") if k not in data]
    if missing:
        raise ConfigError(f"{where}: field '{missing[0]}' is missing; give the file `promptsearch export NAME "
                          f"--format json` wrote, unchanged")
    try:
        return RunnablePrompt(data, where)
    except (TypeError, KeyError, ValueError) as e:
        raise ConfigError(f"{where}: not a prompt export this version reads ({excerpt(str(e), 80)}); export it "
                          f"again with `promptsearch export NAME --format json`") from None


def load_prompt(path: str | Path, flag: str = "") -> RunnablePrompt:
    """A prompt JSON file written by `promptsearch export NAME --format json`."""
    p = Path(path)
    where = f"{flag} {p}".strip()
    if not p.is_file():
        raise NotFoundError(f"{where}: no such file; write one with `promptsearch export NAME --format json -o {p}`")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where}: not a JSON file ({excerpt(str(e), 80)}); give the file `promptsearch "
                          f"export NAME --format json` wrote") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: not a prompt export (a JSON object is expected)")
    return from_record(data, where)
