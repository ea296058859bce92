"""Statistics for comparing two prompts on the same examples.

Both prompts are scored on the same examples, so every comparison is paired: the bootstrap
resamples example indices once for both, and the tests look at per-example differences. All
randomness is seeded, so the same scores always give the same intervals and p-values. Only numpy
(which Optuna needs anyway) is used; the binomial tail is summed exactly in integers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
PERMUTATIONS = 10000
EXACT_PERMUTATION_MAX = 16  # up to 2^16 sign patterns are enumerated instead of sampled
_CHUNK = 256  # resamples drawn at a time: keeps memory at _CHUNK x n


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def _resample_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of `values` [n] over `resamples` bootstrap resamples: [resamples]."""
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    out = []
    for start in range(0, resamples, _CHUNK):
        idx = rng.integers(0, n, size=(min(_CHUNK, resamples - start), n))
        out.append(values[idx].mean(axis=-1))
    return np.concatenate(out)


def bootstrap_ci(scores, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95) -> Interval:
    """Percentile bootstrap interval for the mean score."""
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        raise ValueError("no scores")
    means = _resample_means(x, resamples, seed)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(x.mean()), float(lo), float(hi))


def paired_bootstrap_ci(a, b, resamples: int = RESAMPLES, seed: int = 0,
                        level: float = 0.95) -> Interval:
    """Interval for mean(a) - mean(b), resampling examples (pairs) together."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return bootstrap_ci(d, resamples, seed, level)


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


def paired_permutation(a, b, permutations: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided sign-flip permutation test on the mean per-example difference.

    Exact (every sign pattern) when at most EXACT_PERMUTATION_MAX differences are non-zero;
    otherwise Monte Carlo with the +1 correction, so the p-value is never 0.
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    observed = abs(d.sum()) - 1e-12  # sums, not means: same ordering, fewer rounding ties
    if d.size <= EXACT_PERMUTATION_MAX:
        signs = ((np.arange(2 ** d.size)[:, None] >> np.arange(d.size)) & 1) * 2 - 1
        return float((np.abs(signs @ d) >= observed).mean())
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, permutations, _CHUNK):
        signs = rng.choice((-1.0, 1.0), size=(min(_CHUNK, permutations - start), d.size))
        hits += int((np.abs(signs @ d) >= observed).sum())
    return (hits + 1) / (permutations + 1)


def paired_test(a, b, seed: int = 0) -> tuple[str, float]:
    """(test name, two-sided p-value): exact McNemar for 0/1 scores, else a permutation test."""
    if is_binary(a, b):
        return "exact McNemar", mcnemar_exact(a, b)
    return "paired permutation", paired_permutation(a, b, seed=seed)
