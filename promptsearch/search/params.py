"""The search space as Optuna parameters, and parameters back into a candidate.

Conditional dimensions are only sampled where they mean something: the demo count of few-shot
CoT excludes 0 (it is its own Optuna parameter, since a categorical's choices are fixed), the
neighbour order only for nearest selection, n and T only for self-consistency. A space with the
single strategy `direct` samples exactly the parameters it did before strategies existed.
"""
from __future__ import annotations

from typing import Any, Sequence

import optuna

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.render.demos import select_demos
from promptsearch.render.prompt import Candidate
from promptsearch.render.strategy import WITH_DEMOS, WITH_RATIONALES, Strategy

NO_TRIGGER = "none"  # Optuna stores categorical choices; a readable name for "no CoT trigger"


def suggest(trial: optuna.Trial, space: SpaceSpec, task: TaskSpec,
            instructions: Sequence[str], dynamic: bool = False) -> dict[str, Any]:
    """Sample one point. Dimensions with a single choice are fixed, not sampled.

    `instructions` is the pool (the space's seeds, plus proposals when the space has any):
    an index into it is what Optuna samples, since a categorical's choices cannot grow.
    """
    params: dict[str, Any] = {"instruction": suggest_instruction(trial, len(instructions), dynamic)}
    strategy = _categorical(trial, "strategy", space.strategies)
    params["strategy"] = strategy
    _suggest_demos(trial, space, task, strategy, params)
    if strategy == "least_to_most":
        params["cot_trigger"] = NO_TRIGGER  # it opens with its decomposition request instead
    else:
        triggers = tuple(t if t is not None else NO_TRIGGER for t in space.cot_triggers)
        params["cot_trigger"] = _categorical(trial, "cot_trigger", triggers)
    _suggest_reasoning(trial, space, task, strategy, params)
    params["template"] = _categorical(trial, "template", space.templates)
    return params


def _suggest_demos(trial: optuna.Trial, space: SpaceSpec, task: TaskSpec, strategy: str,
                   params: dict[str, Any]) -> None:
    if strategy not in WITH_DEMOS:
        params["n_demos"] = 0
        return
    if strategy == "few_shot_cot":  # with no demos it would be zero-shot CoT
        n = _categorical(trial, "n_cot_demos", tuple(c for c in space.demo_counts if c > 0))
    else:
        n = _categorical(trial, "n_demos", space.demo_counts)
    params["n_demos"] = n
    if n == 0:
        return
    selections = tuple(s for s in space.demo_selection if task.is_classification or s != "stratified")
    selection = _categorical(trial, "demo_selection", selections or ("random",))
    params["demo_selection"] = selection
    if selection == "nearest":
        params["demo_order"] = _categorical(trial, "demo_order", space.demo_orders)
    else:
        params["demo_draw"] = (trial.suggest_int("demo_draw", 0, space.demo_draws - 1)
                               if space.demo_draws > 1 else 0)


def _suggest_reasoning(trial: optuna.Trial, space: SpaceSpec, task: TaskSpec, strategy: str,
                       params: dict[str, Any]) -> None:
    """The strategy's own settings, sampled or fixed, as Strategy.from_params reads them."""
    if strategy == "direct":
        return
    params["max_reasoning_tokens"] = space.max_reasoning_tokens
    params["label_answer"] = (_categorical(trial, "label_answer", space.label_answers)
                              if task.is_classification else "rank")
    if strategy == "self_consistency":
        params["sc_samples"] = _categorical(trial, "sc_samples", space.sc_samples)
        params["sc_temperature"] = _categorical(trial, "sc_temperature", space.sc_temperatures)
        params["sc_seed"] = space.seed
    if strategy == "least_to_most":
        params["max_subquestions"] = space.max_subquestions


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
                    train: Sequence[Example], instructions: Sequence[str], demos=None) -> Candidate:
    """The candidate a parameter set stands for; demos are drawn deterministically.

    `demos` (search.bootstrap.DemoSource) is needed for rationale demos and nearest-neighbour
    selection; without one, demos come from `train` as before.
    """
    strategy = Strategy.from_params(params)
    n, selection = params.get("n_demos", 0), params.get("demo_selection", "random")
    pool = train
    if demos is not None and n > 0:
        pool = demos.pool(strategy)
        if strategy.name in WITH_RATIONALES:  # where the demos' reasoning came from, if anywhere
            params["rationales"] = demos.rationale_source if pool else "none"
    elif strategy.name in WITH_RATIONALES and n > 0:
        raise ValueError(f"{strategy.name} needs a DemoSource for its rationale demos")
    nearest = None
    if selection == "nearest" and n > 0:
        if demos is None:
            raise ValueError("nearest-neighbour demos need a DemoSource")
        nearest, chosen = demos.nearest(strategy, n, params.get("demo_order", "drawn")), []
    else:
        chosen = select_demos(pool, n, selection, params.get("demo_draw", 0), space.seed, task.output)
    trigger = params["cot_trigger"]
    return Candidate(instruction=instructions[params["instruction"]], demos=tuple(chosen),
                     cot_trigger=None if trigger == NO_TRIGGER else trigger,
                     template=params["template"], params=dict(params), nearest=nearest)
