"""The first trial of a new search: the prompt a person would write first, not a random draw.

Why: TPE's first trials are random draws (search/sampling.py), and a search on a small budget may
never try the plain prompt a user would have written by hand -- the space's first instruction with
a few demonstrations in today's format. The best prompt it returns can then be worse on dev than
that hand prompt, which the user could have had for free. So a new search queues that point as
its trial 0 (Optuna's `enqueue_trial`, the documented way to start from a known configuration);
the sampler learns from it like from any other trial, and the search's best on dev is never below
it. `start: none` in the space turns it off; searches stored before this change are untouched
(the point is queued once, when the search is created).

The point is each dimension's first choice, which is how the shipped spaces order them (the
plain instruction, no trigger, the plain template, `direct`, today's format), except the number
of demonstrations: a few-shot prompt is what people write, so it is START_DEMOS, or the count the
space offers nearest to it (ties: the larger). A pool with proposals starts from the first seed.
The point is found by running the space's own `suggest` against a recording trial, so its Optuna
parameter names are exactly those a sampled trial would use, conditional ones included.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import optuna

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.propose.pool import GROUPS_ATTR, SEED
from promptsearch.search.params import suggest
from promptsearch.strategies import STRATEGIES

log = logging.getLogger(__name__)

START_DEMOS = 4  # demonstrations in the first trial (or the space's nearest count)
START_ATTR = "start"  # user attribute of the queued first trial


class _Recorder:
    """Enough of optuna.Trial for `suggest`: answers each question with the start choice and
    records it under the parameter's Optuna name."""

    def __init__(self, user_attrs: dict[str, Any], demo_counts: set[str]) -> None:
        self.params: dict[str, Any] = {}
        self.user_attrs = user_attrs
        self.demo_counts = demo_counts  # Optuna names of the strategies' demo-count parameters

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        value = nearest_count(choices) if name in self.demo_counts else choices[0]
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        self.params[name] = low
        return low


def nearest_count(choices: Sequence[int]) -> int:
    """The demo count nearest START_DEMOS (ties: the larger)."""
    return min(choices, key=lambda n: (abs(n - START_DEMOS), -n))


def start_point(space: SpaceSpec, task: TaskSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params, user_attrs) of the first trial: only the sampled parameters (a dimension with one
    choice is not one). With proposals on, the trial is pinned to the seed group (pool.py), so it
    still draws the first seed if a proposal round runs before it."""
    attrs: dict[str, Any] = {START_ATTR: True}
    origins: list[str] | None = None
    if space.propose is not None and space.propose.get("pool_layout", "integer") != "integer":
        origins, attrs[GROUPS_ATTR] = [SEED] * len(space.instructions), 1
    counts = (STRATEGIES.get(name, "strategies").demo_count(space) for name in space.strategies)
    recorder = _Recorder(attrs, {c.optuna_name for c in counts if c is not None})
    suggest(recorder, space, task, space.instructions,  # type: ignore[arg-type]  # duck-typed trial
            dynamic=space.propose is not None, origins=origins)
    return recorder.params, attrs


def queue_start(study: optuna.Study, space: SpaceSpec, task: TaskSpec) -> dict[str, Any] | None:
    """Queue the start point as the study's next trial, unless the space says `start: none`."""
    if space.start == "none":
        return None
    params, attrs = start_point(space, task)
    study.enqueue_trial(params, user_attrs=attrs, skip_if_exists=True)
    log.info("first trial queued: %s", params)
    return params
