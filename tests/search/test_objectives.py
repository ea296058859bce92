"""Objectives and picks (search/objectives.py, search/pareto.py): parsing, the pruner refusal,
and the shortest-within rule, without a model; test_tradeoffs_real.py runs them on the real one."""
from types import SimpleNamespace

import pytest

from promptsearch.errors import ConfigError
from promptsearch.search import SearchSettings
from promptsearch.search.objectives import check_objectives, directions, parse_objectives, prefix_text
from promptsearch.search.pareto import Point, parse_pick, shortest_within
from promptsearch.search.runner import check_settings


def test_objectives_parse_and_directions():
    assert parse_objectives("score") == ("score",)
    assert parse_objectives(" score , prompt_tokens") == ("score", "prompt_tokens")
    assert parse_objectives(["score", "prompt_tokens"]) == ("score", "prompt_tokens")
    assert directions("score,prompt_tokens") == ["maximize", "minimize"]


@pytest.mark.parametrize("text, message", [
    ("prompt_tokens,score", "--objectives: must start with score"),
    ("score,score", "--objectives: lists an objective twice"),
    ("score,latency", "--objectives: 'latency' is not a known objective; allowed: score, prompt_tokens"),
    ("", "--objectives: a comma-separated list of objectives"),
])
def test_bad_objectives_are_one_line_errors(text, message):
    with pytest.raises(ConfigError) as e:
        parse_objectives(text)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_pruner_with_several_objectives_is_refused():
    with pytest.raises(ConfigError, match="--pruner wilcoxon: cannot prune a multi-objective search"):
        check_settings(SearchSettings(objectives="score,prompt_tokens", pruner="wilcoxon"))
    check_settings(SearchSettings(objectives="score", pruner="wilcoxon"))  # one objective: fine
    assert check_objectives("score,prompt_tokens", "none") == ("score", "prompt_tokens")


def test_prefix_text_drops_the_inputs():
    assert prefix_text("Do it.\n\nReview: {review}\nLabel:", ["review"]) == "Do it.\n\nReview: \nLabel:"


@pytest.mark.parametrize("pick, parsed", [(None, ("best", None)), ("best", ("best", None)),
                                          ("shortest-within 0.01", ("shortest-within", 0.01)),
                                          (["shortest-within", "0"], ("shortest-within", 0.0))])
def test_picks_parse(pick, parsed):
    assert parse_pick(pick) == parsed


@pytest.mark.parametrize("pick, message", [
    ("shortest", "--pick: 'shortest' is not a pick; allowed: best, shortest-within TOL"),
    ("shortest-within", "is not a pick"),
    ("shortest-within 2", "the tolerance must be a number from 0 to 1.0, got 2"),
    ("shortest-within nan", "the tolerance must be a number from 0 to 1.0"),
    ("shortest-within x", "the tolerance must be a number from 0 to 1.0, got 'x'"),
])
def test_bad_picks_are_one_line_errors(pick, message):
    with pytest.raises(ConfigError) as e:
        parse_pick(pick)
    assert message in str(e.value)


def _point(trial, score, tokens):
    return Point(SimpleNamespace(trial=trial, score=score, candidate=None), tokens)


def test_shortest_within_takes_the_fewest_tokens_near_the_best():
    pts = [_point(0, 0.90, 400), _point(1, 0.895, 120), _point(2, 0.85, 30), _point(3, 0.895, 120)]
    assert shortest_within(pts, 0.01).entry.trial == 1  # tie on tokens and score: the earlier trial
    assert shortest_within(pts, 0.0).entry.trial == 0
    assert shortest_within(pts, 0.05).entry.trial == 2
