"""The Python API: what the command line does, as functions (`from promptsearch import ...`).

    import promptsearch as ps
    store = ps.Store("sqlite:///db/promptsearch.db")
    search = ps.create_search(store, "sentiment", "examples/review_sentiment.yaml",
                              "search_spaces/default.yaml", dev_limit=32)
    ps.run_search(store, search, trials=20)          # again later: 20 more (that is `resume`)
    print(ps.best(store, search).candidate.prompt)

Functions take a search as its name or its SearchRecord, and a task or space as a path or an
already loaded spec. Models are loaded on first use from what the search stored, unless an `lm` is
given (load one with `load_lm` and pass it along to avoid loading it twice).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from promptsearch.config import SpaceSpec, TaskSpec, load_space, load_task
from promptsearch.errors import UserError
from promptsearch.lm.backends import load_lm
from promptsearch.lm.base import LM
from promptsearch.search import RunSummary, SearchSettings, TrialEvent
from promptsearch.search import create_search as _create_search
from promptsearch.search import run_search as _run_search
from promptsearch.search.results import Entry
from promptsearch.search.results import best as _best
from promptsearch.search.results import leaderboard as _leaderboard
from promptsearch.storage import DEFAULT_URL, SearchRecord, Store

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_URL", "Entry", "RunSummary", "SearchRecord", "SearchSettings", "SpaceSpec", "Store",
           "TaskSpec", "TrialEvent", "best", "create_search", "evaluate_heldout", "export_prompt", "leaderboard",
           "load_lm", "load_space", "load_task", "optimize", "resume", "run_search", "write_report"]


def create_search(store: Store, name: str, task: TaskSpec | str | Path, space: SpaceSpec | str | Path,
                  *, model: str = "smollm2", lm: LM | None = None, **settings: Any) -> SearchRecord:
    """Store a new search (no trial runs yet). `settings`: any SearchSettings field, e.g.
    dev_limit=32, seed=0, sampler="tpe", pruner="wilcoxon", max_new_tokens=32, label_scoring="mean"
    (sampler and pruner by name; an Optuna object goes to run_search or optimize). With `lm` (the
    loaded `model`), the prompt-length, label and metric checks of `optimize` run first; their
    warnings are logged."""
    task = task if isinstance(task, TaskSpec) else load_task(task)
    space = space if isinstance(space, SpaceSpec) else load_space(space)
    try:
        parsed = SearchSettings(**settings)
    except TypeError as e:
        known = ", ".join(SearchSettings.__dataclass_fields__)
        raise UserError(f"create_search: {e}; settings are {known}") from None
    if lm is not None:
        from promptsearch.search.checks import preflight
        for warning in preflight(task, space, lm, parsed):
            log.warning("%s", warning)
    return _create_search(store, name, task, space, model, parsed)


def run_search(store: Store, search: SearchRecord | str, trials: int, *, lm: LM | None = None,
               on_trial: Callable[[TrialEvent], None] | None = None, sampler: Any = None,
               pruner: Any = None) -> RunSummary:
    """Run `trials` more trials (complete or pruned). A stopped search continues where it was;
    one whose data or metric file changed since it was created is refused (UserError).
    `sampler` / `pruner`: an Optuna sampler or pruner object for this run, instead of the one
    the search's settings name (each trial records its class)."""
    record = _record(store, search)
    _check_unchanged(record)
    return _run_search(store, record, lm or model_for(record), trials, on_trial=on_trial,
                       sampler=sampler, pruner=pruner)


def resume(store: Store, search: SearchRecord | str, trials: int, *, lm: LM | None = None,
           on_trial: Callable[[TrialEvent], None] | None = None, sampler: Any = None,
           pruner: Any = None) -> RunSummary:
    """`promptsearch resume`: the same as run_search on an existing search."""
    return run_search(store, search, trials, lm=lm, on_trial=on_trial, sampler=sampler, pruner=pruner)


def optimize(task: TaskSpec | str | Path, space: SpaceSpec | str | Path = "search_spaces/default.yaml", *,
             trials: int = 20, name: str | None = None, model: str = "smollm2", db: str = DEFAULT_URL,
             lm: LM | None = None, **settings: Any) -> tuple[Store, SearchRecord]:
    """`promptsearch optimize` in one call: create the search and run it. Returns (store, search).
    `sampler` and `pruner` may be names (stored with the search) or Optuna objects (used for
    this run; the search stores the default names)."""
    task = task if isinstance(task, TaskSpec) else load_task(task)
    objects = {k: settings.pop(k) for k in ("sampler", "pruner") if not isinstance(settings.get(k, ""), str)}
    store = Store(db)
    lm = lm or load_lm(model, device=settings.get("device"), dtype=settings.get("dtype"),
                       batch_size=settings.get("batch_size", 32), api_base=settings.get("api_base"))
    record = create_search(store, name or task.name, task, space, model=model, lm=lm, **settings)
    run_search(store, record, trials, lm=lm, **objects)
    return store, record


def best(store: Store, search: SearchRecord | str) -> Entry:
    """The best candidate so far: `.score` (dev), `.trial`, `.candidate.prompt` and its parts."""
    return _best(store, _record(store, search))


def leaderboard(store: Store, search: SearchRecord | str, k: int | None = 5) -> list[Entry]:
    return _leaderboard(store, _record(store, search), k)


def export_prompt(store: Store, search: SearchRecord | str, fmt: str = "text", path: str | Path | None = None,
                  *, overwrite: bool = False) -> str:
    """`promptsearch export`: the best candidate in a format of `promptsearch.export.EXPORTERS`,
    also written to `path` if given. (Not named `export`: that is the name of the package's subpackage.)"""
    from promptsearch.export import EXPORTERS

    exporter = EXPORTERS.get(fmt, "export")
    record = _record(store, search)
    text = exporter(store, record, _best(store, record))
    if path is not None:
        target = Path(path)
        if target.exists() and not overwrite:
            raise UserError(f"export: {target} exists; pass overwrite=True to replace it")
        target.write_text(text, encoding="utf-8")
    return text


def evaluate_heldout(store: Store, search: SearchRecord | str, *, split: str = "test",
                     baseline: str = "first", limit: int | None = None, lm: LM | None = None,
                     save: bool = True, **options: Any):
    """`promptsearch eval`: best vs baseline on held-out data; returns a Verdict (stored by default).
    `options`: seed, resamples."""
    from promptsearch.verdict import run_verdict, store_verdict

    record = _record(store, search)
    _check_unchanged(record)
    verdict = run_verdict(store, record, lm or model_for(record), split=split, baseline=baseline,
                          limit=limit, **options)
    if save:
        store_verdict(store, record, verdict, baseline)
    return verdict


def write_report(store: Store, search: SearchRecord | str, path: str | Path, *, top: int = 10) -> Path:
    """`promptsearch report`: one self-contained HTML file."""
    from promptsearch.report import write_report as _write

    return _write(store, _record(store, search), Path(path), top=top)


def model_for(record: SearchRecord, api_base: str | None = None) -> LM:
    """Load the model a search was made with, with its stored device, dtype and batch size."""
    s = record.settings
    return load_lm(record.model, device=s.get("device"), dtype=s.get("dtype"),
                   batch_size=s.get("batch_size", 32), api_base=api_base or s.get("api_base"))


def _check_unchanged(record: SearchRecord) -> None:
    from promptsearch.search.checks import check_unchanged
    check_unchanged(record)


def _record(store: Store, search: SearchRecord | str) -> SearchRecord:
    return search if isinstance(search, SearchRecord) else store.get_search(search)
