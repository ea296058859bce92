"""The search loop over Optuna. Uses storage, evaluation and rendering; never the CLI."""
from promptsearch.search.loop import run_search
from promptsearch.search.runner import RunSummary, SearchSettings, TrialEvent, create_search, open_parts

__all__ = ["RunSummary", "SearchSettings", "TrialEvent", "create_search", "open_parts", "run_search"]
