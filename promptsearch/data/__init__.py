"""Task data and metrics. Imports only config; never LM backends or the search."""
from promptsearch.data.dataset import Example, load_split
from promptsearch.data.metrics import get_metric, normalize

__all__ = ["Example", "get_metric", "load_split", "normalize"]
