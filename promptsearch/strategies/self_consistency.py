"""`self_consistency`: n reasoning paths sampled at temperature T (one request with
`num_return_sequences`, not n requests), each answered, then a majority vote (Wang et al., 2023)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.strategies.base import Choice, Strategy, param, register_strategy
from promptsearch.strategies.reasoning import Reasoning


@register_strategy("self_consistency")
@dataclass(frozen=True)
class SelfConsistency(Reasoning):
    samples: int = param("sc_samples", 1)  # reasoning paths
    temperature: float = param("sc_temperature", 0.0)  # 0 = greedy
    seed: int = param("sc_seed", 0)  # sampling seed
    bootstraps: ClassVar[bool] = True

    def key_parts(self) -> list[str]:
        return [f"n{self.samples}", f"t{self.temperature:g}", f"s{self.seed}"]

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        if "sc_samples" not in params:
            return cls.name
        return f"{cls.name} n={params['sc_samples']} T={params.get('sc_temperature')}"

    @classmethod
    def demo_count(cls, space: SpaceSpec) -> Choice | None:
        return Choice("n_demos", space.demo_counts)

    @classmethod
    def settings(cls, space: SpaceSpec, task: TaskSpec) -> list[Choice]:
        return [*super().settings(space, task), Choice("sc_samples", space.sc_samples),
                Choice("sc_temperature", space.sc_temperatures), Choice("sc_seed", (space.seed,))]

    @classmethod
    def for_bootstrap(cls, space: SpaceSpec) -> Strategy:
        return replace(super().for_bootstrap(space), samples=max(space.sc_samples),  # type: ignore[type-var]
                       temperature=space.sc_temperatures[0], seed=space.seed)

    def sampling(self) -> tuple[int, float, int]:
        return self.samples, self.temperature, self.seed
