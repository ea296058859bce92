"""Reasoning strategies: one class per strategy, each in its own module, registered by name.

    direct            rank the labels by log-likelihood, or generate greedily to the end of the line
    zero_shot_cot     a trigger ("Let's think step by step."), one greedy reasoning path, then the
                      answer-extraction step
    few_shot_cot      the same after demonstrations that show their reasoning
    self_consistency  n reasoning paths sampled at temperature T, each answered, majority vote
    least_to_most     decompose into sub-questions, answer them in order, then the question

A strategy class holds everything about it (base.py): its key (prompt hash and evaluation cache),
its Optuna parameters, its layout and how it runs on an LM. Adding one is a module with a
`@register_strategy("name")` class (see least_to_most.py for a strategy with its own settings,
layout tweak and LM calls); search spaces then accept the name.

Where this package sits: above `render` and `lm`, below `evaluate`. Render lays out what a
strategy object says (render.Layout) without knowing any strategy by name or importing this
package; a candidate brings its strategy object. The evaluator runs `prompt.strategy.run(...)`;
the search samples the parameters a strategy class declares (`Choice`s) with Optuna and builds the
strategy from them (`strategy_from_params`). Config keeps strategy names as plain strings;
`check_space` validates them against the registry, with the file and field in the error. So one
class owns all of it, and every import still points down.
"""
from promptsearch.strategies.base import (
                                          STRATEGIES,
                                          Choice,
                                          Decoding,
                                          Strategy,
                                          Trace,
                                          check_space,
                                          describe,
                                          param,
                                          register_strategy,
                                          strategy_from_params,
)

# The built-in strategies register by being imported here, in this order (simplest first), which
# is the order error messages list them in.
# isort: off
from promptsearch.strategies import direct, zero_shot_cot, few_shot_cot, self_consistency, least_to_most  # noqa: F401
# isort: on
from promptsearch.strategies.direct import DIRECT, Direct
from promptsearch.strategies.few_shot_cot import FewShotCoT
from promptsearch.strategies.least_to_most import LeastToMost
from promptsearch.strategies.reasoning import Reasoning
from promptsearch.strategies.self_consistency import SelfConsistency
from promptsearch.strategies.zero_shot_cot import ZeroShotCoT

__all__ = ["DIRECT", "STRATEGIES", "Choice", "Decoding", "Direct", "FewShotCoT", "LeastToMost", "Reasoning",
           "SelfConsistency", "Strategy", "Trace", "ZeroShotCoT", "check_space", "describe", "param",
           "register_strategy", "strategy_from_params"]
