"""Two trials of a search, example by example on dev: where their answers differ, and the paired
test between them (the same statistics as `eval` and the dev evidence line: stats.py, dev.py).

Like the dev evidence, this compares two trials on the data they were picked on; a small p-value
is not proof that one prompt generalises better (`promptsearch eval` on test is).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from promptsearch.config.task import TaskSpec
from promptsearch.errors import UserError
from promptsearch.search.examples import ExampleOutcome, outcome_dict, trial_examples
from promptsearch.storage.store import SearchRecord, Store
from promptsearch.verdict import stats
from promptsearch.verdict.dev import ALPHA, _statistic


@dataclass(frozen=True)
class Difference:
    """One dev example on which the two trials answered or scored differently."""

    a: ExampleOutcome
    b: ExampleOutcome

    def to_dict(self) -> dict[str, Any]:
        a = outcome_dict(self.a)
        return {"position": a["position"], "example_id": a["example_id"], "inputs": a["inputs"],
                "expected": a["expected"],
                "a": {"prediction": self.a.prediction, "score": self.a.score, "feedback": self.a.feedback},
                "b": {"prediction": self.b.prediction, "score": self.b.score, "feedback": self.b.feedback}}


@dataclass(frozen=True, kw_only=True)
class TrialComparison:
    search: str
    a: int  # trial numbers
    b: int
    a_score: float  # the metric's aggregate over the dev examples
    b_score: float
    examples: int
    difference: stats.Interval  # a - b, 95% paired resampled interval
    test: str
    p_value: float
    differences: list[Difference]  # in dev order

    @property
    def a_better(self) -> int:
        return sum(d.a.score > d.b.score for d in self.differences)

    @property
    def b_better(self) -> int:
        return sum(d.b.score > d.a.score for d in self.differences)

    def reading(self) -> str:
        d = self.difference
        numbers = (f"{d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}] over {self.examples} dev examples, "
                   f"{self.test} p = {self.p_value:.2g}")
        counts = f"trial {self.a} better on {self.a_better}, trial {self.b} better on {self.b_better}"
        if self.p_value < ALPHA:
            winner = self.a if d.estimate > 0 else self.b
            return f"trial {self.a} - trial {self.b}: {numbers} ({counts}); trial {winner} is better on dev"
        return (f"trial {self.a} - trial {self.b}: {numbers} ({counts}); not distinguishable on dev")

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "differences"}
        out.update(a_better=self.a_better, b_better=self.b_better, reading=self.reading(),
                   differences=[d.to_dict() for d in self.differences])
        return out


def compare_trials(store: Store, record: SearchRecord, a: int, b: int, seed: int = 0) -> TrialComparison:
    """Trials `a` and `b` on their stored dev results (no model call)."""
    if a == b:
        raise UserError(f"compare: trials A and B are both {a}; give two different trial numbers")
    first = trial_examples(store, record, a, flag="A")
    second = trial_examples(store, record, b, flag="B")
    sa = [o.score for o in first.outcomes]
    sb = [o.score for o in second.outcomes]
    try:
        statistic = _statistic(TaskSpec.from_dict(record.task))
    except (UserError, OSError):  # a Python metric that moved: the mean
        statistic = None
    test, p = stats.paired_test(sa, sb, seed, statistic=statistic)
    diff = stats.paired_resampled_interval(sa, sb, seed=seed, statistic=statistic)
    differences = [Difference(x, y) for x, y in zip(first.outcomes, second.outcomes)
                   if x.prediction != y.prediction or x.score != y.score]
    return TrialComparison(search=record.name, a=a, b=b, a_score=stats.aggregate(sa, statistic),
                           b_score=stats.aggregate(sb, statistic), examples=len(sa), difference=diff, test=test,
                           p_value=p, differences=differences)
