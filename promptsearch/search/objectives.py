"""What a search optimises: its objectives, a registry of named measures of a scored candidate.

`score` (the dev metric, maximised) always comes first; `--objectives score,prompt_tokens` adds
the prompt's length, minimised, and makes the Optuna study multi-objective (one value per
objective, `study.directions`). TPE, random and NSGA-II (search/sampling.py) handle several
objectives; pruners do not (Optuna's `report`/`should_prune` are single-objective only), so the
combination is refused before anything is written, and `study.best_trial` is never used: the
best trial is the highest score (storage.store.trial_score reads `values[0]`), and the trade-off
is `study.best_trials`, the Pareto front (search/pareto.py).

Adding an objective is a function with `@OBJECTIVES.register("name")` returning an `Objective`
whose `measure(prompt, score, lm)` gives the trial's value; the names are stored with the search
(`SearchSettings.objectives`), so `resume` optimises the same ones.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from promptsearch.errors import ConfigError, excerpt
from promptsearch.lm.base import LM
from promptsearch.registry import Registry
from promptsearch.render.prompt import Prompt, PromptTemplate

Names = str | Sequence[str]  # "score,prompt_tokens" as stored in the settings, or a list (the API)


@dataclass(frozen=True)
class Objective:
    direction: str  # "maximize" or "minimize" (Optuna's words)
    measure: Callable[[Prompt, float, LM], float]  # (rendered prompt, dev score, model) -> value


OBJECTIVES: Registry[Objective] = Registry("objective")
OBJECTIVES.add("score", Objective("maximize", lambda prompt, score, lm: score))


def prefix_text(text_with_placeholders: str, fields: Sequence[str]) -> str:
    """The prompt without its inputs: instruction, demonstrations and layout (what every example
    pays for). `{field}` placeholders are removed."""
    for name in fields:
        text_with_placeholders = text_with_placeholders.replace("{" + name + "}", "")
    return text_with_placeholders


def prompt_tokens(prompt: Prompt, lm: LM) -> int:
    """Tokens of the rendered prompt prefix, by the model's tokenizer. Demos chosen per input
    (a DynamicPrompt) are not one prefix: its demo-less template is counted."""
    base = prompt if isinstance(prompt, PromptTemplate) else getattr(prompt, "base", None)
    text = base.with_placeholders() if base is not None else prompt.with_placeholders()
    return lm.count_tokens(prefix_text(text, prompt.fields))


OBJECTIVES.add("prompt_tokens", Objective("minimize", lambda prompt, score, lm: float(prompt_tokens(prompt, lm))))


def parse_objectives(text: Names, flag: str = "--objectives") -> tuple[str, ...]:
    """'score,prompt_tokens' (or a list) -> names, checked: known, distinct, `score` first."""
    if not isinstance(text, (str, list, tuple)):
        raise ConfigError(f"{flag}: a comma-separated list of objectives, e.g. score,prompt_tokens; "
                          f"got {excerpt(text)}")
    names = [n.strip() if isinstance(n, str) else n for n in (text.split(",") if isinstance(text, str) else text)]
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{flag}: a comma-separated list of objectives, e.g. score,prompt_tokens; "
                              f"got {excerpt(text)}")
        OBJECTIVES.get(name, flag)
    if len(set(names)) != len(names):
        raise ConfigError(f"{flag}: lists an objective twice ({excerpt(text)})")
    if not names or names[0] != "score":
        raise ConfigError(f"{flag}: must start with score (the dev metric), e.g. score,prompt_tokens; "
                          f"got {excerpt(text)}")
    return tuple(names)


def stored(objectives: Names) -> str:
    """How the settings keep them: 'score,prompt_tokens' (what `--objectives` takes)."""
    return ",".join(parse_objectives(objectives))


def check_objectives(objectives: Names, pruner: str) -> tuple[str, ...]:
    """The settings' objectives, and no pruner with several (nothing written before this passes)."""
    names = parse_objectives(objectives)
    if len(names) > 1 and pruner != "none":
        raise ConfigError(f"--pruner {pruner}: cannot prune a multi-objective search (--objectives "
                          f"{','.join(names)}); use --pruner none")
    return names


def check_pruner(objectives: Names, prunes: bool) -> None:
    """A run given a pruner object (the Python API) on a multi-objective search."""
    if prunes and is_multi(objectives):
        raise ConfigError(f"pruner: cannot prune a multi-objective search (objectives {stored(objectives)}); "
                          "run it without a pruner")


def directions(objectives: Names) -> list[str]:
    return [OBJECTIVES.get(name).direction for name in parse_objectives(objectives)]


def is_multi(objectives: Names) -> bool:
    return len(parse_objectives(objectives)) > 1


def trial_values(objectives: Names, prompt: Prompt, score: float, lm: LM) -> float | list[float]:
    """What Optuna is told: the score alone (single objective, as before), or one value each."""
    names = parse_objectives(objectives)
    if len(names) == 1:
        return score
    return [OBJECTIVES.get(name).measure(prompt, score, lm) for name in names]
