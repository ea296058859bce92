"""`worker NAME`: join a search, help reach its target, leave."""
from __future__ import annotations

from dataclasses import dataclass

from promptsearch.lm.base import LM
from promptsearch.search import open_parts
from promptsearch.search.checks import check_unchanged
from promptsearch.search.workers import WorkerSummary, join, run_worker
from promptsearch.service.hooks import QUIET, Hooks, Interrupted
from promptsearch.service.searches import load_checked, open_store
from promptsearch.storage.store import SearchRecord, Store


@dataclass
class WorkerResult:
    record: SearchRecord
    finished: int  # finished trials of the search when the worker started
    target: int
    summary: WorkerSummary | None = None  # None: nothing was left to do


def work(db: Store | str, name: str, *, trials: int | None = None, heartbeat: int | None = None,
         grace: int | None = None, lm: LM | None = None, hooks: Hooks = QUIET) -> WorkerResult:
    """Run trials of the search until it has its target (first raised by `trials` if given)."""
    options = {k: v for k, v in (("heartbeat_interval", heartbeat), ("grace_period", grace)) if v is not None}
    store = open_store(db, **options)
    try:
        record = store.get_search(name)
        check_unchanged(record)  # changed data or metric: refuse before raising the target
        target = join(store, record, trials)
        _, finished, _ = store.slot_counts(record)
        if finished >= target:
            return WorkerResult(record, finished, target)
        task, _, settings = open_parts(record)
        lm = lm or load_checked(record.model, settings, task, hooks)
        hooks.note(f"worker on {record.name}: {finished} of {target} trials finished")
        try:
            with hooks.trials(target, 0) as sink:
                sink.show(finished, None)
                summary = run_worker(store, record, lm, on_trial=sink.update)
        except KeyboardInterrupt:
            raise Interrupted(record, f"interrupted: completed trials are saved; rejoin with "
                                      f"`promptsearch worker {record.name}`") from None
        return WorkerResult(record, finished, target, summary)
    finally:
        if store is not db:  # a Store the caller passed stays open
            store.close()

