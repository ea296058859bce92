"""Evaluation of rendered prompts with an LM. Never imports storage, search or the CLI."""
from promptsearch.evaluate.evaluator import (
    Decoding,
    EvalCache,
    Evaluation,
    Evaluator,
    ExampleResult,
)
from promptsearch.evaluate.strategies import Trace, run_strategy

__all__ = ["Decoding", "EvalCache", "Evaluation", "Evaluator", "ExampleResult", "Trace", "run_strategy"]
