"""`few_shot_cot`: demonstrations that show their reasoning (from the task's `rationale` field, or
bootstrapped: search/bootstrap.py), then one greedy reasoning path and the answer step (Wei et al.)."""
from __future__ import annotations

from dataclasses import dataclass

from promptsearch.config.space import SpaceSpec
from promptsearch.strategies.base import Choice, register_strategy
from promptsearch.strategies.reasoning import Reasoning


@register_strategy("few_shot_cot")
@dataclass(frozen=True)
class FewShotCoT(Reasoning):
    @classmethod
    def demo_count(cls, space: SpaceSpec) -> Choice | None:
        # Its own Optuna parameter: without demos it would be zero-shot CoT, so 0 is not a choice
        # (and a categorical's choices are fixed for the life of a study).
        return Choice("n_demos", tuple(c for c in space.demo_counts if c > 0), name="n_cot_demos")
