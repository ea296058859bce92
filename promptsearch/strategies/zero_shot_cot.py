"""`zero_shot_cot`: "Let's think step by step." after the question, one greedy reasoning path, then
the answer-extraction step (Kojima et al., 2022). No demonstrations."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from promptsearch.strategies.base import register_strategy
from promptsearch.strategies.reasoning import Reasoning


@register_strategy("zero_shot_cot")
@dataclass(frozen=True)
class ZeroShotCoT(Reasoning):
    bootstraps: ClassVar[bool] = True
