"""The paired statistics against closed forms and SciPy."""
import numpy as np
import pytest

from promptsearch.verdict import stats


def test_resampled_interval_is_seeded_and_brackets_the_mean():
    x = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 5
    a = stats.resampled_interval(x, seed=3)
    assert a == stats.resampled_interval(x, seed=3)  # same seed, same interval
    assert a.estimate == pytest.approx(0.7) and a.low < 0.7 < a.high
    # the normal approximation of a proportion's 95% interval, for n = 50
    half = 1.96 * np.sqrt(0.7 * 0.3 / 50)
    assert a.low == pytest.approx(0.7 - half, abs=0.04) and a.high == pytest.approx(0.7 + half, abs=0.04)


def test_resampled_interval_of_a_constant_is_a_point():
    a = stats.resampled_interval([1.0] * 7)
    assert (a.low, a.estimate, a.high) == (1.0, 1.0, 1.0)


def test_paired_interval_uses_pairs():
    a = np.array([1, 1, 0, 1, 0, 1, 1, 0] * 4, dtype=float)
    b = a.copy()  # identical prompts: the difference is exactly 0 on every resample
    d = stats.paired_resampled_interval(a, b)
    assert (d.low, d.estimate, d.high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("only_a,only_b,both", [(7, 1, 10), (0, 0, 5), (3, 3, 2), (12, 2, 0), (0, 9, 1)])
def test_mcnemar_matches_scipy_binomial(only_a, only_b, both):
    binomtest = pytest.importorskip("scipy.stats").binomtest
    a = [1] * only_a + [0] * only_b + [1] * both + [0] * 4
    b = [0] * only_a + [1] * only_b + [1] * both + [0] * 4
    n = only_a + only_b
    expected = 1.0 if n == 0 else binomtest(only_a, n, 0.5).pvalue
    assert stats.mcnemar_exact(a, b) == pytest.approx(expected)
    assert stats.paired_test(a, b) == ("exact McNemar", pytest.approx(expected))


def test_wilcoxon_for_graded_scores_matches_scipy():
    wilcoxon = pytest.importorskip("scipy.stats").wilcoxon
    rng = np.random.default_rng(0)
    a = rng.random(60)
    b = a + rng.normal(0, 0.05, 60)
    name, p = stats.paired_test(a + 0.2, b)
    assert name == "Wilcoxon signed-rank" and p < 0.001
    assert p == pytest.approx(wilcoxon(a + 0.2 - b).pvalue)
    name, p = stats.paired_test(a, a + rng.normal(0, 0.05, 60) * 0.01)
    assert p > 0.05
    assert stats.paired_test([0.5, 0.5], [0.5, 0.5])[1] == 1.0


def test_a_metric_aggregate_other_than_the_mean():
    """A median metric: its own aggregate in the estimate, the interval and the test."""
    median = lambda xs: float(np.median(xs))  # noqa: E731
    a = [0.9, 0.8, 0.85, 0.1, 0.9, 0.95, 0.88, 0.2] * 4
    b = [0.5, 0.4, 0.45, 0.9, 0.5, 0.55, 0.48, 0.9] * 4
    ci = stats.resampled_interval(a, statistic=median, resamples=300)
    assert ci.estimate == pytest.approx(0.865) and ci.low <= 0.865 <= ci.high
    assert stats.resampled_interval(a, resamples=300).estimate == pytest.approx(np.mean(a))
    d = stats.paired_resampled_interval(a, b, statistic=median, resamples=300)
    assert d.estimate == pytest.approx(0.865 - 0.5)
    name, p = stats.paired_test(a, b, statistic=median, resamples=300)
    assert name == "paired bootstrap" and p < 0.05
    assert stats.paired_test(a, a, statistic=median, resamples=300)[1] == 1.0
