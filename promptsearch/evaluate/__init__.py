"""Evaluation of rendered prompts with an LM. Never imports storage, search or the CLI."""
from promptsearch.evaluate.evaluator import (
    Decoding,
    EvalCache,
    Evaluation,
    Evaluator,
    ExampleResult,
)
from promptsearch.evaluate.judge import metric_for

__all__ = ["Decoding", "EvalCache", "Evaluation", "Evaluator", "ExampleResult", "metric_for"]
