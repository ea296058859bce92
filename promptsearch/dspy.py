"""promptsearch from DSPy: an optimizer with DSPy's interface for single-predictor programs.

    from promptsearch.dspy import PromptSearch
    optimizer = PromptSearch(metric=my_metric, trials=20, model="smollm2", db="sqlite:///db/ps.db")
    program = optimizer.compile(dspy.Predict("question -> answer"), trainset=train, valset=val)

The program's signature and examples become a task: its input fields are the task's inputs, its one
output field (besides a ChainOfThought's `reasoning`) the task's output; train and val are written
as the task's JSONL files (train, dev, and -- DSPy gives no held-out split -- test = val), in
`data_dir` (default: beside the SQLite database). The DSPy metric `metric(example, prediction,
trace=None)` becomes a registered metric (a bool counts as 0 or 1; a number must lie in [0, 1]),
keyed in the evaluation cache by its code. The search is stored like any other, so `promptsearch
show/report/eval` read it, and compiling again with the same name continues it up to `trials`.
The returned program is a copy of the student whose predictor holds the found instruction (with its
CoT trigger, as the dspy export writes it) and demonstrations. DSPy is imported only here.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptsearch.errors import UserError, excerpt

__all__ = ["PromptSearch"]
_REASONING = "reasoning"


def _teleprompter() -> type:
    from dspy.teleprompt import Teleprompter
    return Teleprompter


class PromptSearch(_teleprompter()):  # type: ignore[misc]
    """DSPy optimizer (`compile(student, trainset=..., valset=...)`) backed by a promptsearch search."""

    def __init__(self, metric: Callable[..., Any], trials: int = 20, model: str = "smollm2",
                 db: str = "sqlite:///db/promptsearch.db", *, name: str | None = None, space: str | Path | None = None,
                 data_dir: str | Path | None = None, lm: Any = None, **settings: Any):
        super().__init__()
        if not callable(metric):
            raise UserError(f"PromptSearch: metric must be a function metric(example, prediction, trace=None), "
                            f"got {excerpt(metric)}")
        self.metric, self.trials, self.model, self.db = metric, trials, model, db
        self.name, self.space, self.data_dir, self.lm, self.settings = name, space, data_dir, lm, settings

    def compile(self, student: Any, *, trainset: list, teacher: Any = None, valset: list | None = None,
                **kwargs: Any) -> Any:
        import promptsearch as ps
        from promptsearch.config import load_task

        predictor, inputs, output = _single_predictor(student)
        name = self.name or f"dspy-{'-'.join(inputs)}-{output}"
        folder = Path(self.data_dir) if self.data_dir is not None else _beside(self.db, name)
        rows = {"train": _rows(trainset, "trainset", inputs, output),
                "dev": _rows(valset if valset else trainset, "valset" if valset else "trainset", inputs, output)}
        metric_name = _register(self.metric, output)
        folder.mkdir(parents=True, exist_ok=True)
        for split, data in (("train", rows["train"]), ("dev", rows["dev"]), ("test", rows["dev"])):
            _write(folder / f"{split}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data))
        _write(folder / "task.yaml", json.dumps({"name": name, "train": "train.jsonl", "dev": "dev.jsonl",
                                                 "test": "test.jsonl", "inputs": inputs, "output": output,
                                                 "metric": metric_name}) + "\n")
        space = self.space or _write(folder / "space.yaml", _space(predictor, len(rows["train"]), student))
        store = ps.Store(self.db)
        names = [r.name for r in store.list_searches()]
        if name not in names:
            search = ps.create_search(store, name, load_task(folder / "task.yaml"), space, model=self.model,
                                      lm=self.lm, **self.settings)
        else:
            search = store.get_search(name)
        done = len(ps.leaderboard(store, search, None))
        from promptsearch.search.results import finished_trials
        more = self.trials - len(finished_trials(store, search))
        if more > 0 or not done:
            ps.run_search(store, search, max(more, 1), lm=self.lm)
        return _program(student, ps.best(store, search).candidate, load_task(folder / "task.yaml"))


def _single_predictor(student: Any) -> tuple[Any, list[str], str]:
    """The one predictor, its input fields and its one output field; one line if not so."""
    found = student.named_predictors()
    if len(found) != 1:
        names = ", ".join(n for n, _ in found) or "none"
        raise UserError(f"PromptSearch: the program has {len(found)} predictors ({excerpt(names, 80)}); promptsearch "
                        f"optimizes single-predictor programs (dspy.Predict, dspy.ChainOfThought) -- multi-stage "
                        f"programs are not supported yet")
    predictor = found[0][1]
    inputs = list(predictor.signature.input_fields)
    outputs = [k for k in predictor.signature.output_fields if k != _REASONING]
    if len(outputs) != 1:
        raise UserError(f"PromptSearch: the signature has output fields {', '.join(outputs) or 'none'}; promptsearch "
                        f"searches prompts for one output field")
    return predictor, inputs, outputs[0]


def _rows(examples: Any, where: str, inputs: list[str], output: str) -> list[dict[str, Any]]:
    if not examples:
        raise UserError(f"PromptSearch.compile: {where} is empty; give DSPy examples with the fields "
                        f"{', '.join([*inputs, output])}")
    out = []
    for i, ex in enumerate(examples):
        fields = dict(ex.items()) if hasattr(ex, "items") else None
        if fields is None:
            raise UserError(f"PromptSearch.compile: {where}[{i}] is not a dspy.Example, got {excerpt(ex)}")
        missing = [k for k in (*inputs, output) if fields.get(k) in (None, "")]
        if missing:
            raise UserError(f"PromptSearch.compile: {where}[{i}] has no field '{excerpt(missing[0], 40)}'; the "
                            f"signature's fields are {', '.join([*inputs, output])} (the example has "
                            f"{excerpt(', '.join(fields), 80)})")
        out.append({k: fields[k] for k in (*inputs, output)})
    return out


def _register(metric: Callable[..., Any], output: str) -> str:
    """The DSPy metric as a registered promptsearch metric, named by its code."""
    import dspy

    from promptsearch.data.metrics import METRICS, Metric

    code = getattr(metric, "__code__", None)
    blob = (code.co_code + repr(code.co_consts).encode()) if code is not None else repr(metric).encode()
    name = f"dspy_{getattr(metric, '__name__', 'metric').strip('<>')}_{hashlib.sha256(blob).hexdigest()[:10]}"

    class DSPyMetric(Metric):
        def score(self, prediction: str, example: Any) -> float:
            ex = dspy.Example(**example.fields).with_inputs(*self.task.inputs)
            value = metric(ex, dspy.Prediction(**{output: prediction}), None)
            return float(value) if isinstance(value, (bool, int, float)) else value

    METRICS.add(name, DSPyMetric, replace=True)
    return name


def _space(predictor: Any, train: int, student: Any) -> str:
    import dspy
    cot = isinstance(student, dspy.ChainOfThought) or _REASONING in predictor.signature.output_fields
    counts = [n for n in (0, 2, 4) if n <= train]
    space = {"name": "dspy", "instructions": [predictor.signature.instructions, "Answer with the {output} only.", ""],
             "strategies": ["zero_shot_cot" if cot else "direct"],
             "cot_triggers": ["Let's think step by step."] if cot else [None],
             "demos": {"counts": counts, "selection": ["random"]}, "templates": ["plain", "chat"]}
    return json.dumps(space) + "\n"  # JSON is YAML


def _program(student: Any, row: Any, task: Any) -> Any:
    """A copy of the student holding the found instruction and demonstrations."""
    import dspy

    from promptsearch.export.dspy_program import dspy_instructions

    program = student.deepcopy()
    predictor = program.named_predictors()[0][1]
    instructions = dspy_instructions(task, row)
    if instructions:
        predictor.signature = predictor.signature.with_instructions(instructions)
    predictor.demos = [dspy.Example(**d).with_inputs(*task.inputs) for d in row.demos]
    return program


def _beside(db: str, name: str) -> Path:
    """Where the task's files go: beside a SQLite database, else in the working directory."""
    prefix = "sqlite:///"
    base = Path(db[len(prefix):]).parent if db.startswith(prefix) else Path(".")
    return base / f"{name}-data"


def _write(path: Path, text: str) -> Path:
    if not path.exists() or path.read_text(encoding="utf-8") != text:  # unchanged files keep their digests
        path.write_text(text, encoding="utf-8")
    return path
