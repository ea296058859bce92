"""The search loop over Optuna. Uses storage, evaluation and rendering; never the CLI."""
from promptsearch.search.loop import run_trials
from promptsearch.search.runner import RunSummary, SearchSettings, TrialEvent, new_search, open_parts

__all__ = ["RunSummary", "SearchSettings", "TrialEvent", "new_search", "open_parts", "run_trials"]
