"""The task file: where the examples are, which fields go in and out, and how answers are scored.

`metric` is kept here as parsed data only -- the metric registry belongs to the data layer
(promptsearch/data/metrics.py), which resolves and validates it when the task's data is checked,
naming this file and field on error. What this module accepts:

  metric: f1                          a registered metric's name (the data layer checks it)
  metric: metrics.py:score_answer     a Python file (relative to the task file) and a function;
                                      the file must sit in or below the task file's folder unless
                                      the task file also says `metric_outside_folder: true`
  metric: {judge: {rubric: "...", model: smollm2, api_base: URL}}   an LLM judge

A Python metric is stored as the absolute path and the function name, like the split files, so a
stored search resumes from any working directory. A judge is stored as `metric: "judge"` plus
the `judge` mapping, so everything that shows `metric` keeps showing a short string.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.limits import MAX_LABELS, check_int
from promptsearch.config.lookalike import explain
from promptsearch.config.yamlio import Fields, read_yaml_mapping
from promptsearch.errors import ConfigError, excerpt

SPLITS = ("train", "dev", "test")
JUDGE = "judge"  # the `metric` of a task whose answers an LLM judges (see `judge`)
JUDGE_KEYS = ("rubric", "model", "api_base")
# Stored with a search beside the spec (search layer: digests of the files); not part of the spec.
STORED_BESIDE = ("fingerprints",)


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    name: str
    train: str  # absolute paths, so a stored search resumes from any working directory
    dev: str
    test: str
    inputs: tuple[str, ...]
    output: str
    metric: str
    labels: tuple[str, ...] | None = None
    description: str = ""
    source: str = ""  # the YAML file it was read from
    rationale: str | None = None  # a train field with worked solutions, for chain-of-thought demos
    judge: dict[str, str] | None = None  # {rubric, model?, api_base?} when metric == "judge"
    selection: dict[str, Any] | None = None  # {fraction, top?}: part of dev held out for the pick

    @property
    def python_metric(self) -> tuple[Path, str] | None:
        """(file, function) of a `file.py:function` metric; None for other metrics."""
        path, sep, func = self.metric.rpartition(":")
        if not sep or not path.endswith(".py"):
            return None
        return Path(path), func

    @property
    def is_classification(self) -> bool:
        """Label tasks are scored by ranking the labels by log-likelihood, without generation."""
        return self.labels is not None

    def split_path(self, split: str) -> Path:
        return Path(getattr(self, split))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["inputs"] = list(self.inputs)
        d["labels"] = list(self.labels) if self.labels is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        d = {k: v for k, v in d.items() if k not in STORED_BESIDE}
        d["inputs"] = tuple(d["inputs"])
        d["labels"] = tuple(d["labels"]) if d.get("labels") is not None else None
        return cls(**d)


def load_task(path: str | Path) -> TaskSpec:
    """Parse a task YAML strictly. Data paths are relative to the YAML file's folder."""
    path = Path(path)
    f = Fields(read_yaml_mapping(path, "task"), path)
    name = f.get("name", str, default=path.stem)
    description = f.get("description", str, default="")
    base = path.resolve().parent
    paths = {}
    for split in SPLITS:
        rel = f.get(split, str, required=True)
        paths[split] = base / rel
        if not _is_file(paths[split]):
            raise f.error(split, f"points to {excerpt(str(paths[split]), 300)}, which does not exist")
        if paths[split].suffix.lower() not in (".jsonl", ".csv"):
            raise f.error(split, f"must be a .jsonl or .csv file, got '{excerpt(paths[split].name)}'")
    inputs = f.str_list("inputs", required=True)
    output = f.get("output", str, required=True)
    if output in inputs:
        raise f.error("output", f"'{excerpt(output)}' is also listed in inputs; the output must be another field")
    if len(set(inputs)) != len(inputs):
        raise f.error("inputs", "lists a field twice")
    metric, judge = _metric(f, base)
    labels = f.str_list("labels")
    if labels is not None and len(set(labels)) != len(labels):
        raise f.error("labels", "lists a label twice")
    if labels is not None and len(labels) > MAX_LABELS:
        raise f.error("labels", f"lists {len(labels)} labels; a label task scores every label for every example, "
                                f"so at most {MAX_LABELS}; for more, drop `labels` and score by generation")
    for i, label in enumerate(labels or ()):
        why = explain(label, labels[:i], identical_only=True)  # type: ignore[index]
        if why:
            raise f.error("labels", f"lists two labels that look the same{why}")
    if labels is not None and len(labels) < 2:
        raise f.error("labels", f"lists a single label ('{labels[0]}'); a label task ranks at least two, "
                                f"or drop `labels` to score by generation")
    rationale = f.get("rationale", str)
    if rationale is not None and rationale in (*inputs, output):
        raise f.error("rationale", f"'{excerpt(rationale)}' is also an input or the output; name the field "
                                   f"that holds worked solutions in the train split")
    selection = _selection(f)
    f.done()
    return TaskSpec(name=name, description=description,
                    train=str(paths["train"]), dev=str(paths["dev"]), test=str(paths["test"]),
                    inputs=tuple(inputs), output=output, metric=metric,
                    labels=tuple(labels) if labels is not None else None, source=str(path),
                    rationale=rationale, judge=judge, selection=selection)


def _selection(f: Fields) -> dict[str, Any] | None:
    """`selection: {fraction: F, top: K}`: hold the part F (0 < F < 1) of dev out of the search
    and pick among the top K (default 5) by dev there (search/selection.py)."""
    value = f.get("selection", dict)
    if value is None:
        return None
    sel = Fields(value, f.source, prefix="selection.")
    fraction = sel.get("fraction", (int, float), required=True)
    if not 0 < fraction < 1:
        raise sel.error("fraction", f"must be greater than 0 and less than 1 (the part of dev held out for the "
                                    f"final pick), got {excerpt(fraction)}")
    top = sel.get("top", int, default=5)
    check_int(sel.where("top"), top, "select_top")
    sel.done()
    return {"fraction": float(fraction), "top": top}


def _metric(f: Fields, base: Path) -> tuple[str, dict[str, str] | None]:
    """(metric, judge) as parsed data; names are checked by the data layer's registry."""
    value = f.get("metric", (str, dict), default="accuracy")
    if isinstance(value, dict):
        if list(value) != [JUDGE] or not isinstance(value[JUDGE], dict):
            raise f.error("metric", "as a mapping must be {judge: {rubric: ..., model: ...}}; otherwise give "
                                    "a metric name or a file.py:function")
        judge = Fields(value[JUDGE], f.source, prefix="metric.judge.")
        out = {"rubric": judge.get("rubric", str, required=True)}
        if not out["rubric"].strip():
            raise judge.error("rubric", "must not be empty; say what a good answer is")
        for key in JUDGE_KEYS[1:]:
            given = judge.get(key, str)
            if given is not None:
                out[key] = given
        judge.done()
        model = out.get("model")
        if model and (base / model).exists():  # a local judge model next to the task file
            out["model"] = str((base / model).resolve())
        return JUDGE, out
    name = value.strip()
    path, sep, func = name.rpartition(":")
    outside = f.get("metric_outside_folder", bool, default=False)
    if sep and path.endswith(".py"):
        file = base / path
        if not func.isidentifier() or keyword.iskeyword(func):
            raise f.error("metric", f"'{excerpt(name)}' must end with a function name after the colon, "
                                    f"e.g. {excerpt(path)}:score_answer")
        if func.startswith("__") and func.endswith("__"):
            raise f.error("metric", f"'{excerpt(name)}' names '{func}', a special (dunder) name that every "
                                    f"module has; name the scoring function you defined, e.g. "
                                    f"{excerpt(path)}:score_answer")
        if not _is_file(file):
            raise f.error("metric", f"points to {excerpt(str(file), 300)}, which does not exist")
        resolved = file.resolve()
        if not outside and not resolved.is_relative_to(base):
            raise f.error("metric", f"points to {excerpt(str(resolved), 300)}, outside the task file's folder "
                                    f"{excerpt(str(base), 300)}; its code runs with your permissions, so move "
                                    f"it into that folder, or set `metric_outside_folder: true` to allow it")
        return f"{resolved}:{func}", None
    if outside:
        raise f.error("metric_outside_folder", "is only for a metric in a Python file (metric: FILE.py:FUNCTION)")
    if name == JUDGE:
        raise f.error("metric", "'judge' needs a mapping: metric: {judge: {rubric: ..., model: ...}}")
    return name, None


NAME = re.compile(r"[\w.-]{1,100}")  # \w: letters and digits of any script, and '_'


def check_name(name: object, where: str, hint: str = "") -> str:
    """A search name: it appears in commands users type, file names and tables."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.startswith("-"):
        raise ConfigError(f"{where}: '{excerpt(name)}' is not a valid name; use letters, digits, '-', '_' or '.' "
                          f"(at most 100, not starting with '-'){hint}")
    return name


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False
