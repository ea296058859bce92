"""The search space as Optuna parameters, and parameters back into a candidate."""
from __future__ import annotations

from typing import Any, Sequence

import optuna

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.render.demos import select_demos
from promptsearch.render.prompt import Candidate

NO_TRIGGER = "none"  # Optuna stores categorical choices; a readable name for "no CoT trigger"


def suggest(trial: optuna.Trial, space: SpaceSpec, task: TaskSpec,
            instructions: Sequence[str], dynamic: bool = False) -> dict[str, Any]:
    """Sample one point. Dimensions with a single choice are fixed, not sampled.

    `instructions` is the pool (the space's seeds, plus proposals when the space has any):
    an index into it is what Optuna samples, since a categorical's choices cannot grow.
    """
    params: dict[str, Any] = {"instruction": suggest_instruction(trial, len(instructions), dynamic)}
    n = _categorical(trial, "n_demos", space.demo_counts)
    params["n_demos"] = n
    if n > 0:
        selections = space.demo_selection if task.is_classification else ("random",)
        params["demo_selection"] = _categorical(trial, "demo_selection", selections)
        params["demo_draw"] = (trial.suggest_int("demo_draw", 0, space.demo_draws - 1)
                               if space.demo_draws > 1 else 0)
    triggers = tuple(t if t is not None else NO_TRIGGER for t in space.cot_triggers)
    params["cot_trigger"] = _categorical(trial, "cot_trigger", triggers)
    params["template"] = _categorical(trial, "template", space.templates)
    return params


def suggest_instruction(trial: optuna.Trial, pool_size: int, dynamic: bool) -> int:
    """An index into the instruction pool. A pool that grows (LLM proposals) is sampled as an
    integer, because Optuna's categorical choices are fixed for the life of a study."""
    if dynamic:
        return trial.suggest_int("instruction", 0, pool_size - 1) if pool_size > 1 else 0
    return _categorical(trial, "instruction", range(pool_size))


def _categorical(trial: optuna.Trial, name: str, choices: Sequence[Any]) -> Any:
    if len(choices) == 1:
        return choices[0]
    return trial.suggest_categorical(name, list(choices))


def build_candidate(params: dict[str, Any], space: SpaceSpec, task: TaskSpec,
                    train: Sequence[Example], instructions: Sequence[str]) -> Candidate:
    """The candidate a parameter set stands for; demos are drawn deterministically from train."""
    demos = select_demos(train, params["n_demos"], params.get("demo_selection", "random"),
                         params.get("demo_draw", 0), space.seed, task.output)
    trigger = params["cot_trigger"]
    return Candidate(instruction=instructions[params["instruction"]], demos=tuple(demos),
                     cot_trigger=None if trigger == NO_TRIGGER else trigger,
                     template=params["template"], params=dict(params))
