"""`worker NAME`: join a search, help reach its target, leave."""
from __future__ import annotations

from dataclasses import dataclass

from promptsearch.config.limits import check_int
from promptsearch.lm.base import LM
from promptsearch.search.workers import WorkerSummary, join, run_worker
from promptsearch.service.hooks import QUIET, Hooks, Interrupted, plural
from promptsearch.service.searches import check_stored, load_checked, one_command, open_store
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
    if trials is not None:
        check_int("--trials", trials, "trials")
    for flag, value in (("--heartbeat", heartbeat), ("--grace", grace)):
        if value is not None:
            check_int(flag, value, flag[2:])
    options = {k: v for k, v in (("heartbeat_interval", heartbeat), ("grace_period", grace)) if v is not None}
    store = open_store(db, **options)
    try:
        record = store.get_search(name)
        with one_command():
            return _work(store, record, trials, lm, hooks)
    finally:
        if store is not db:  # a Store the caller passed stays open
            store.close()


def _work(store: Store, record: SearchRecord, trials: int | None, lm: LM | None, hooks: Hooks) -> WorkerResult:
    """The checks of a stored search (each once: service.searches.check_stored), then the first
    write (raising the target), then the trials."""
    task, settings = check_stored(store, record)  # a worker imports the plug-ins the search was made with
    if not trials:  # nothing to write: maybe nothing to do either
        target = join(store, record, None)
        _, finished, _ = store.slot_counts(record)
        if finished >= target:
            return WorkerResult(record, finished, target)
    lm = load_checked(record.model, settings, task, hooks, lm=lm)  # every check before the first write
    target = join(store, record, trials)
    _, finished, _ = store.slot_counts(record)
    hooks.note(f"worker on {record.name}: {finished} of {plural(target, 'trial')} finished")
    try:
        with hooks.trials(target, 0) as sink:
            sink.show(finished, None)
            summary = run_worker(store, record, lm, on_trial=sink.update)
    except KeyboardInterrupt:
        raise Interrupted(record, f"interrupted: completed trials are saved; rejoin with "
                                  f"`promptsearch worker {record.name}`") from None
    return WorkerResult(record, finished, target, summary)

