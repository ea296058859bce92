"""Evaluation of rendered prompts with an LM. Never imports storage, search or the CLI."""
from promptsearch.evaluate.evaluator import (
    EvalCache,
    Evaluation,
    Evaluator,
    ExampleResult,
    decoding_for_settings,
    decoding_key,
)
from promptsearch.evaluate.judge import metric_for

__all__ = ["EvalCache", "Evaluation", "Evaluator", "ExampleResult", "decoding_for_settings", "decoding_key",
           "metric_for"]
