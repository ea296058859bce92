"""Metrics: objects in a registry that score one prediction against an example's answers.

A metric has
  score(prediction, example) -> float in [0, 1], or (float, feedback): the feedback says why an
      answer lost; it is kept with the evaluation (and shown to people and proposers);
  aggregate(scores) -> float: the search objective, the pruners' running value, the held-out
      estimate and its bootstrap intervals all go through it (the mean unless a metric says
      otherwise);
  identity: a short string that goes into the evaluation cache key, so that cached scores are
      only ever reused by the same metric (a Python metric: its file's content hash; a judge:
      its model fingerprint and rubric).

Built-in metrics register in METRICS (metric_builtins.py); `resolve_metric(task)` turns a task's
`metric` (a name, or a `file.py:function`, see python_metric.py) into an object, with a one-line
error naming the task file and field. A task with several acceptable answers (Example.references)
is scored against each and keeps the best. The LLM judge (judge.py) needs a model, so the
evaluate layer builds it (evaluate/judge.py) and hands it its backend.
"""
from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from numbers import Real
from typing import Sequence

from promptsearch.config.task import JUDGE, TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.errors import ConfigError, UserError
from promptsearch.registry import Registry

_PUNCT = string.punctuation + "“”‘’«»…"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")

METRICS: Registry[type["Metric"]] = Registry("metric")


@dataclass(frozen=True)
class Scored:
    """One example's score, and why it lost (None when the metric does not say)."""

    value: float
    feedback: str | None = None


class MetricError(UserError):
    """A metric that failed on an example or returned something that is not a score."""


class Metric:
    """Base of every metric. Subclasses implement `compare` (one reference), or `score`."""

    name = ""  # what reports show; set by resolve_metric for registered ones
    version = 1  # raise it when a built-in's scores change, so old cached scores are not reused

    def __init__(self, task: TaskSpec):
        self.task = task

    @property
    def identity(self) -> str:
        return self.name if self.version == 1 else f"{self.name}@{self.version}"

    def compare(self, prediction: str, reference: str) -> float | tuple[float, str]:
        raise NotImplementedError

    def models(self) -> list:
        """Models this metric calls (a judge's), whose calls a search's budget counts."""
        return []

    def score(self, prediction: str, example: Example) -> float | tuple[float, str]:
        """The best value over the example's acceptable answers (with that answer's feedback)."""
        best: Scored | None = None
        for reference in example.answers(self.task.output):
            got = as_scored(self.compare(prediction, reference), self, example)
            if best is None or got.value > best.value:
                best = got
        assert best is not None  # every example has at least one answer (checked at load)
        return (best.value, best.feedback) if best.feedback is not None else best.value

    def score_many(self, predictions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        """Every prediction's score (a judge overrides this to ask its model once for all)."""
        return [as_scored(self.score(p, e), self, e) for p, e in zip(predictions, examples)]

    def aggregate(self, scores: Sequence[float]) -> float:
        return sum(scores) / len(scores) if scores else 0.0

    @property
    def aggregates_by_mean(self) -> bool:
        """True unless the metric overrides `aggregate` (statistics then take a faster path)."""
        return type(self).aggregate is Metric.aggregate

    def __repr__(self) -> str:
        return f"<metric {self.identity}>"


def as_scored(value, metric: Metric, example: Example) -> Scored:
    """Check what a metric returned: a number in [0, 1], or (number, feedback string)."""
    feedback = None
    if isinstance(value, tuple):
        if len(value) != 2 or not isinstance(value[1], str):
            raise MetricError(f"metric {metric.name} returned {_short(value)} for example {example.id}; "
                              f"return a score in [0, 1] or (score, feedback string)")
        value, feedback = value
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        raise MetricError(f"metric {metric.name} returned {_short(value)} for example {example.id}; "
                          f"a score must be a number in [0, 1]")
    if not 0.0 <= float(value) <= 1.0:
        raise MetricError(f"metric {metric.name} returned {value!r} for example {example.id}; a score "
                          f"must be in [0, 1] (it is not clipped)")
    return Scored(float(value), feedback)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve_metric(task: TaskSpec) -> Metric:
    """The metric object of a task's `metric`: a registered name or a Python file's function.
    A judge needs a model: use promptsearch.evaluate.metric_for (this raises for one)."""
    if task.metric == JUDGE:
        raise ValueError("an LLM judge needs its model: build it with promptsearch.evaluate.metric_for")
    found = task.python_metric
    if found is not None:
        from promptsearch.data.python_metric import PythonMetric
        return PythonMetric(task, *found)
    if task.metric not in METRICS:
        raise ConfigError(f"{task.source}: field 'metric' is '{task.metric}'; allowed: "
                          f"{', '.join(METRICS.names())}, a FILE.py:FUNCTION of your own, or "
                          f"{{judge: {{rubric: ..., model: ...}}}}")
    metric = METRICS.get(task.metric)(task)
    metric.name = task.metric
    return metric


def check_metric(task: TaskSpec, run_code: bool = True) -> None:
    """Resolve the task's metric once (a judge's model is checked when it loads). A Python
    metric's file is parsed; `run_code` also imports it (a dry run does not: issue 25)."""
    if task.metric != JUDGE:
        metric = resolve_metric(task)
        if run_code and hasattr(metric, "load"):
            metric.load()


# ----------------------------------------------------------------------------- text helpers

def normalize(text: str) -> str:
    """Lower-case, collapse whitespace, strip surrounding punctuation."""
    return " ".join(text.lower().split()).strip(_PUNCT + " ")


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize(prediction) == normalize(gold))


def contains(prediction: str, gold: str) -> float:
    return float(normalize(gold) in normalize(prediction))


def last_number(text: str) -> float | None:
    """The last number in `text` ("1,234.5" -> 1234.5); None when there is none."""
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def numeric(prediction: str, gold: str) -> float:
    p, g = last_number(prediction), last_number(gold)
    return float(p is not None and g is not None and abs(p - g) <= 1e-6 * max(1.0, abs(g)))
