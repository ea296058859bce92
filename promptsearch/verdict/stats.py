"""Statistics for comparing two prompts on the same examples.

Both prompts are scored on the same examples, so every comparison is paired: a resample draws
example indices once for both, and the tests look at per-example differences. All
randomness is seeded, so the same scores always give the same intervals and p-values.

Which test (paired_test): exact McNemar when every score is 0 or 1 (the binomial tail summed
exactly in integers); graded scores (f1, chrF, a judge, a Python metric) get SciPy's Wilcoxon
signed-rank test; a metric whose aggregate is not the mean gets a paired resampled test of that
aggregate. Intervals are percentile intervals over resamples of the metric's aggregate
(`statistic`; None means the mean, computed vectorised).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[Sequence[float]], float]  # a metric's aggregate; None stands for the mean

RESAMPLES = 2000
_CHUNK = 256  # resamples drawn at a time: keeps memory at _CHUNK x n


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _resample_indices(n: int, resamples: int, seed: int):
    """Bootstrap index draws, _CHUNK resamples at a time: [chunk, n] each."""
    rng = np.random.default_rng(seed)
    for start in range(0, resamples, _CHUNK):
        yield rng.integers(0, n, size=(min(_CHUNK, resamples - start), n))


def _resampled(a: np.ndarray, b: np.ndarray | None, resamples: int, seed: int,
               statistic: Statistic | None) -> np.ndarray:
    """stat(a*) - stat(b*) (or stat(a*)) over `resamples` paired resamples: [resamples]."""
    out = []
    for idx in _resample_indices(a.shape[0], resamples, seed):
        if statistic is None:  # the mean is linear: resample the differences directly
            d = a if b is None else a - b
            out.append(d[idx].mean(axis=-1))
        else:
            out.append(np.array([statistic(a[i].tolist()) - (0.0 if b is None else statistic(b[i].tolist()))
                                 for i in idx]))
    return np.concatenate(out)


def _stat(x: np.ndarray, statistic: Statistic | None) -> float:
    return float(x.mean()) if statistic is None else float(statistic(x.tolist()))


def aggregate(scores, statistic: Statistic | None = None) -> float:
    """The metric's aggregate of `scores` (the mean when `statistic` is None)."""
    return _stat(np.asarray(scores, dtype=float), statistic)


def resampled_interval(scores, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95,
                 statistic: Statistic | None = None) -> Interval:
    """Percentile interval over resamples (with replacement: the statistician's bootstrap; in
    promptsearch "bootstrap" means bootstrapped demos) for the aggregate score (the mean by default)."""
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ValueError("no scores")
    values = _resampled(x, None, resamples, seed, statistic)
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(_stat(x, statistic), float(lo), float(hi))


def paired_resampled_interval(a, b, resamples: int = RESAMPLES, seed: int = 0,
                        level: float = 0.95, statistic: Statistic | None = None) -> Interval:
    """Interval for stat(a) - stat(b), resampling examples (pairs) together."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    values = _resampled(a, b, resamples, seed, statistic)
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(_stat(a, statistic) - _stat(b, statistic), float(lo), float(hi))


def is_binary(*arrays) -> bool:
    return all(np.isin(np.asarray(x, dtype=float), (0.0, 1.0)).all() for x in arrays)


def mcnemar_exact(a, b) -> float:
    """Two-sided exact McNemar test: the discordant pairs are Binomial(n, 1/2) under no difference."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    only_a = int(((a == 1) & (b == 0)).sum())
    only_b = int(((a == 0) & (b == 1)).sum())
    n = only_a + only_b
    if n == 0:
        return 1.0
    term = tail = 1  # C(n, 0); each next term from the last, in exact integers
    for k in range(min(only_a, only_b)):
        term = term * (n - k) // (k + 1)
        tail += term
    return min(1.0, 2 * tail / 2 ** n)


def wilcoxon_signed_rank(a, b) -> float:
    """Two-sided Wilcoxon signed-rank test (SciPy) on the per-example differences; pairs with no
    difference are dropped (Wilcox), and no difference at all gives p = 1."""
    from scipy.stats import wilcoxon

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if not np.any(d != 0):
        return 1.0
    return float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def paired_resampled_test(a, b, statistic: Statistic, resamples: int = RESAMPLES, seed: int = 0) -> float:
    """Two-sided p-value over resamples of stat(a) - stat(b) = 0: twice the smaller share of paired
    resamples on either side of 0 (with the +1 correction, so never 0)."""
    values = _resampled(np.asarray(a, dtype=float), np.asarray(b, dtype=float), resamples, seed, statistic)
    if not np.any(values != 0):
        return 1.0
    side = min(int((values <= 0).sum()), int((values >= 0).sum()))
    return min(1.0, 2 * (side + 1) / (values.size + 1))


def paired_test(a, b, seed: int = 0, statistic: Statistic | None = None,
                resamples: int = RESAMPLES) -> tuple[str, float]:
    """(test name, two-sided p-value): exact McNemar when every score is 0 or 1; otherwise the
    Wilcoxon signed-rank test, or for an aggregate other than the mean a paired resampled test (stored under its
    statistician's name, "paired bootstrap", which existing verdicts carry)."""
    if is_binary(a, b):
        return "exact McNemar", mcnemar_exact(a, b)
    if statistic is None:
        return "Wilcoxon signed-rank", wilcoxon_signed_rank(a, b)
    return "paired bootstrap", paired_resampled_test(a, b, statistic, resamples, seed)
