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

import re
import string

from promptsearch.config.task import JUDGE, TaskSpec

# the base types live in metric_base.py (python_metric.py builds on them); re-exported from here
from promptsearch.data.metric_base import Metric, MetricError, Scored, as_scored  # noqa: F401
from promptsearch.data.python_metric import PythonMetric
from promptsearch.errors import ConfigError
from promptsearch.registry import Registry

_PUNCT = string.punctuation + "“”‘’«»…"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")

METRICS: Registry[type[Metric]] = Registry("metric")


def resolve_metric(task: TaskSpec) -> Metric:
    """The metric object of a task's `metric`: a registered name or a Python file's function.
    A judge needs a model: use promptsearch.evaluate.metric_for (this raises for one)."""
    if task.metric == JUDGE:
        raise ValueError("an LLM judge needs its model: build it with promptsearch.evaluate.metric_for")
    found = task.python_metric
    if found is not None:
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
