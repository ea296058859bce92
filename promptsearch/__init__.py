"""promptsearch: find the best prompt for a task and a language model, and prove it.

The Python API (`promptsearch.api`) is available from the package itself, loaded on first use so
that `import promptsearch` stays light (no torch, no database drivers until something needs them):

    import promptsearch as ps
    store = ps.Store("sqlite:///db/promptsearch.db")
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = ("DEFAULT_URL", "Entry", "RunSummary", "SearchRecord", "SearchSettings", "SpaceSpec", "Store",
        "TaskSpec", "TrialEvent", "backup_database", "best", "create_search", "dev_evidence", "evaluate_heldout",
        "export_prompt", "leaderboard", "load_lm", "load_plugins", "load_space", "load_task", "optimize",
        "pareto_front", "plan", "probe", "proposals", "resume", "run_search",
        "score_by_format",
        "write_report",
        "check_prompt", "compare_trials", "load_prompt", "race_summary", "run_prompt", "selection",
        "trial_examples")
_ERRORS = ("ConfigError", "NotFoundError", "UserError")

__all__ = [*_API, *_ERRORS]


# No API name may equal a subpackage's (export, report, verdict, serve, ...): importing the
# subpackage sets that attribute on this package and would hide the function.
def __getattr__(name: str) -> Any:
    if name in _API:
        from promptsearch import api
        return getattr(api, name)
    if name in _ERRORS:
        from promptsearch import errors
        return getattr(errors, name)
    raise AttributeError(f"module 'promptsearch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
