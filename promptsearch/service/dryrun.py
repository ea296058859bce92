"""`optimize --dry-run`: every check of `optimize`, then the planned cost, with what a budget allows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from promptsearch.config import SpaceSpec, TaskSpec
from promptsearch.lm.base import LM
from promptsearch.search import SearchSettings
from promptsearch.search.budget import Budget
from promptsearch.service.hooks import QUIET, Hooks
from promptsearch.service.searches import checked_search, one_command
from promptsearch.storage.store import Store


def plan(db: Store | str, task: TaskSpec | str | Path, space: SpaceSpec | str | Path, *, trials: int,
         name: str | None = None, model: str = "smollm2", settings: SearchSettings | None = None,
         lm: LM | None = None, hooks: Hooks = QUIET, budget: Any = None) -> Any:
    """`optimize --dry-run`: every check of `optimize`, then the planned trials, model calls and
    tokens (search/dryrun.py). Writes nothing, not even a new database file."""
    from promptsearch.search.dryrun import plan_search

    with one_command():
        checked = checked_search(db, task, space, trials=trials, name=name, model=model, settings=settings,
                                 lm=lm, hooks=hooks, budget=budget, read_only=True)
        new = checked.new
        with hooks.status("estimating the search's cost …"):
            result = plan_search(new.name, new.task, new.space, new.settings, checked.lm, trials, new.model)
    if checked.limits:
        result.notes.append(_budget_note(checked.limits, result))
    return result


def _budget_note(budget: Budget, plan: Any) -> str:
    """How many trials the budget allows at the planned cost per trial."""
    parts = []
    for kind, limit in (("calls", budget.calls), ("tokens", budget.tokens)):
        per = getattr(plan.per_trial, kind)
        if limit is not None and per > 0:
            parts.append(f"{kind}={limit:,} allows about {int(limit // per):,} trials")
    return "budget: " + ("; ".join(parts) if parts else budget.describe())
