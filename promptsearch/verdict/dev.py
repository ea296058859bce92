"""The winner's evidence on dev: is the best trial distinguishable from the search's first trial?

The best dev score is the maximum over every trial, so it is biased upwards (the winner's curse):
among near-ties the top is partly luck, and the held-out verdict (heldout.py) is what proves a
gain. This module says, with no model call, how much the dev data itself supports the winner: it
compares the best trial with the first complete trial -- the start prompt (search/start.py) when
the search has one, which is also `eval`'s default baseline -- on the per-example dev scores both
trials stored (search/devscores.py), with the same paired statistics as the verdict (stats.py).

The p-value is for one comparison chosen after the fact (the best of many trials), so it flatters
the winner; a large one is the useful signal ("this gain on dev may be noise"). A small one is
necessary, not sufficient: `promptsearch eval` on test is the proof.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from promptsearch.config.task import JUDGE, TaskSpec
from promptsearch.data.metrics import resolve_metric
from promptsearch.errors import UserError
from promptsearch.search.devscores import dev_scores
from promptsearch.search.results import best, completed_trials
from promptsearch.search.start import START_ATTR
from promptsearch.storage.store import SearchRecord, Store
from promptsearch.verdict import stats

log = logging.getLogger(__name__)
ALPHA = 0.05


@dataclass(frozen=True, kw_only=True)
class DevEvidence:
    best_trial: int
    baseline_trial: int
    baseline_is_start: bool  # the baseline is the search's start prompt (search/start.py)
    examples: int
    best_score: float  # the metric's aggregate of the stored scores (the trials' dev scores)
    baseline_score: float
    difference: stats.Interval  # best - baseline, 95% paired resampled interval
    test: str
    p_value: float

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA and self.difference.estimate > 0

    def reading(self) -> str:
        """One line for `show`, the end of `optimize` and the report."""
        role = "the start prompt" if self.baseline_is_start else "the first trial"
        base = f"trial {self.baseline_trial} ({role})"
        d = self.difference
        numbers = (f"{d.estimate:+.4f} [{d.low:+.4f}, {d.high:+.4f}] over {self.examples} dev examples, "
                   f"{self.test} p = {self.p_value:.2g}")
        if self.significant:
            return (f"dev evidence: trial {self.best_trial} beats {base}: {numbers}; "
                    f"confirm on held-out data with `promptsearch eval`")
        return (f"dev evidence: trial {self.best_trial} is not distinguishable from {base} on dev: {numbers}; "
                f"the top of many trials is biased upwards, so this gain may be noise: check both with "
                f"`promptsearch eval`")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant, "reading": self.reading()}


def dev_evidence(store: Store, record: SearchRecord, seed: int = 0) -> DevEvidence | None:
    """The best trial against the first complete one on their stored dev scores; None when there is
    nothing to compare (the first trial is the best, fewer than two complete trials) or the scores
    were not stored (trials from before they were kept, a dev set above devscores.MAX_STORED)."""
    trials = sorted(completed_trials(store, record), key=lambda t: t.number)
    if len(trials) < 2:
        return None
    first, top = trials[0], best(store, record)
    if top.trial == first.number:
        return None
    winner = next(t for t in trials if t.number == top.trial)
    a, b = dev_scores(winner), dev_scores(first)
    if a is None or b is None or len(a) != len(b) or not a:
        log.debug("no paired dev scores for trials %d and %d", winner.number, first.number)
        return None
    try:
        statistic = _statistic(TaskSpec.from_dict(record.task))
    except (UserError, OSError) as e:  # a Python metric file that moved: no evidence rather than a wrong one
        log.debug("metric not resolvable for the dev evidence: %s", e)
        return None
    test, p = stats.paired_test(a, b, seed, statistic=statistic)
    diff = stats.paired_resampled_interval(a, b, seed=seed, statistic=statistic)
    return DevEvidence(best_trial=winner.number, baseline_trial=first.number,
                       baseline_is_start=bool(first.user_attrs.get(START_ATTR)), examples=len(a),
                       best_score=stats.aggregate(a, statistic), baseline_score=stats.aggregate(b, statistic),
                       difference=diff, test=test, p_value=p)


def _statistic(task: TaskSpec) -> stats.Statistic | None:
    """The metric's aggregate for the tests; None means the mean (a judge's verdicts are averaged)."""
    if task.metric == JUDGE:
        return None
    metric = resolve_metric(task)
    return None if metric.aggregates_by_mean else metric.aggregate
