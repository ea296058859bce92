"""What every metric is (data/metrics.py has the registry and resolves a task's metric): the
base class, a checked score, and the error a metric raises. Its own module so that user metrics
(python_metric.py) build on it without importing the registry that resolves them."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.errors import UserError


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
