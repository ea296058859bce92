"""Task data and metrics. Imports only config; never LM backends or the search."""
from promptsearch.data import metric_builtins  # noqa: F401  (the built-in metrics register by being imported)
from promptsearch.data.dataset import Example, load_split
from promptsearch.data.metrics import METRICS, Metric, Scored, check_metric, normalize, resolve_metric

__all__ = ["METRICS", "Example", "Metric", "Scored", "check_metric", "load_split", "normalize", "resolve_metric"]
