"""The search space as Optuna parameters, and parameters back into a candidate.

Conditional dimensions are only sampled where they mean something: the neighbour order only for
nearest selection; a strategy's own settings (n and T for self-consistency, ...) only for that
strategy, as its class declares them (`Strategy.demo_count`, `triggers`, `settings`: the demo
count of few-shot CoT excludes 0 and is its own Optuna parameter, since a categorical's choices
are fixed). A space with the single strategy `direct` samples exactly the parameters it did
before strategies existed.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import optuna

from promptsearch.config.formats import FormatSpec
from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.propose.pool import suggest_pool
from promptsearch.render.demos import select_demos
from promptsearch.render.format import PromptFormat
from promptsearch.render.prompt import Candidate
from promptsearch.strategies import STRATEGIES, Choice, strategy_from_params

if TYPE_CHECKING:  # bootstrap builds candidates with this module: a runtime import would cycle
    from promptsearch.search.bootstrap import DemoSource

NO_TRIGGER = "none"  # Optuna stores categorical choices; a readable name for "no CoT trigger"


def suggest(trial: optuna.Trial, space: SpaceSpec, task: TaskSpec, instructions: Sequence[str],
            dynamic: bool = False, origins: Sequence[str] | None = None) -> dict[str, Any]:
    """Sample one point. Dimensions with a single choice are fixed, not sampled.

    `instructions` is the pool (the space's seeds, plus proposals when the space has any);
    params["instruction"] is an index into it. A pool that grows (`origins`: where each entry
    came from) is sampled as categories per group (promptsearch.propose.pool).
    """
    params: dict[str, Any] = {}
    if dynamic and origins is not None and len(origins) == len(instructions):
        params["instruction"], params["instruction_origin"] = suggest_pool(trial, origins)
    else:
        params["instruction"] = suggest_instruction(trial, len(instructions), dynamic)
    name = _categorical(trial, "strategy", space.strategies)
    params["strategy"] = name
    strategy = STRATEGIES.get(name, f"{space.source}: field 'strategies'")
    _suggest_demos(trial, space, task, strategy.demo_count(space), params)
    triggers = tuple(t if t is not None else NO_TRIGGER for t in strategy.triggers(space))
    params["cot_trigger"] = _categorical(trial, "cot_trigger", triggers)
    for choice in strategy.settings(space, task):
        params[choice.key] = _categorical(trial, choice.optuna_name, choice.choices)
    params["template"] = _categorical(trial, "template", space.templates)
    if space.formats:  # sampled last: a space without formats samples exactly what it did before
        params.update(suggest_format(trial, FormatSpec.from_dict(space.formats)))
    return params


def suggest_format(trial: optuna.Trial, spec: FormatSpec) -> dict[str, Any]:
    """The format dimensions (config/formats.py), stored under render.format.FORMAT_KEYS; a
    task-specific name map goes with the candidate, so it renders again without the space."""
    out = {key: _categorical(trial, key, choices) for key, choices in (
        ("format_names", spec.field_names), ("format_separator", spec.separators), ("format_casing", spec.casing),
        ("format_spacing", spec.spacing), ("format_answer", spec.answer_prefixes))}
    if out["format_names"] == "task":
        out["format_custom_names"] = dict(spec.names)
    return out


def _suggest_demos(trial: optuna.Trial, space: SpaceSpec, task: TaskSpec, count: Choice | None,
                   params: dict[str, Any]) -> None:
    if count is None:  # the strategy shows no demonstrations
        params["n_demos"] = 0
        return
    n = _categorical(trial, count.optuna_name, count.choices)
    params[count.key] = n
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


def suggest_instruction(trial: optuna.Trial, pool_size: int, dynamic: bool) -> int:
    """An index into the instruction pool. A pool that grows without origins (a custom hook that
    sets `dynamic_instructions` alone) is sampled as an integer, as before pool.py existed."""
    if dynamic:
        return trial.suggest_int("instruction", 0, pool_size - 1) if pool_size > 1 else 0
    return _categorical(trial, "instruction", range(pool_size))


def _categorical(trial: optuna.Trial, name: str, choices: Sequence[Any]) -> Any:
    if len(choices) == 1:
        return choices[0]
    return trial.suggest_categorical(name, list(choices))


def build_candidate(params: dict[str, Any], space: SpaceSpec, task: TaskSpec,
                    train: Sequence[Example], instructions: Sequence[str],
                    demos: DemoSource | None = None) -> Candidate:
    """The candidate a parameter set stands for; demos are drawn deterministically.

    `demos` (search.bootstrap.DemoSource) is needed for rationale demos and nearest-neighbour
    selection; without one, demos come from `train` as before.
    """
    strategy = strategy_from_params(params)
    n, selection = params.get("n_demos", 0), params.get("demo_selection", "random")
    pool = train
    if demos is not None and n > 0:
        pool = demos.pool(strategy)
        if strategy.rationale_demos:  # where the demos' reasoning came from, if anywhere
            params["rationales"] = demos.rationale_source if pool else "none"
    elif strategy.rationale_demos and n > 0:
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
                     template=params["template"], params=dict(params), nearest=nearest, strategy=strategy,
                     format=PromptFormat.from_params(params))
