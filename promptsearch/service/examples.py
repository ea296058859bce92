"""Per-example results of a search: one trial's dev examples (`show --examples`) and two trials
side by side (`compare`). Read-only; no model is loaded."""
from __future__ import annotations

from promptsearch.config.limits import check_int
from promptsearch.search.examples import TrialExamples, select
from promptsearch.search.examples import trial_examples as _trial_examples
from promptsearch.service.searches import open_store, record_of
from promptsearch.storage.store import SearchRecord, Store


def trial_examples(db: Store | str, search: SearchRecord | str, trial: int | None = None, *,
                   wrong: bool = False, limit: int | None = None) -> TrialExamples:
    """Trial `trial`'s dev examples (default: the best trial) with input, expected output,
    prediction, score and the metric's feedback, in dev order; `wrong`: lost points only;
    `limit`: the first K of them, in `.shown` (`.outcomes` holds every dev example, which
    `.confusion()` counts)."""
    if limit is not None:
        check_int("--limit", limit, "limit")
    if trial is not None:
        check_int("--trial", trial, "trial")
    store = open_store(db, read_only=True)
    record = record_of(store, search)
    result = _trial_examples(store, record, trial)
    result.shown = select(result.outcomes, wrong=wrong, limit=limit)
    return result


def compare_trials(db: Store | str, search: SearchRecord | str, a: int, b: int):
    """Trials `a` and `b` on dev: the examples where they differ and the paired test (verdict/compare.py)."""
    from promptsearch.verdict.compare import compare_trials as compare

    for flag, value in (("A", a), ("B", b)):
        check_int(flag, value, "trial")
    store = open_store(db, read_only=True)
    return compare(store, record_of(store, search), a, b)
