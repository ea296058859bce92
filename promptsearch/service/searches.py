"""optimize, resume and worker: every check first, then the first write, then the trials.

Order matters and lives here only: files, settings, name, data, model and context are checked
before anything is written, so a bad input leaves the database as it was.
"""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from promptsearch import plugins
from promptsearch.config import SpaceSpec, TaskSpec, load_space, load_task
from promptsearch.config.formats import FormatSpec, check_format_names
from promptsearch.config.limits import check_int
from promptsearch.config.task import check_name
from promptsearch.data import METRICS
from promptsearch.data.dataset import read_once
from promptsearch.errors import NotFoundError, UserError
from promptsearch.evaluate.labels import describe as describe_label_scoring
from promptsearch.export.chat import PLAIN_AS_USER_ATTR
from promptsearch.lm.base import LM
from promptsearch.registry import Registry
from promptsearch.search import RunSummary, SearchSettings, checks, new_search, objectives, open_parts, run_trials
from promptsearch.search.budget import Budget, check_budget, check_counted, parse_budget, store_budget, stored_budget
from promptsearch.search.checks import check_unchanged
from promptsearch.search.results import completed_trials, finished_trials
from promptsearch.search.runner import check_data, check_settings
from promptsearch.search.sampling import PRUNERS, SAMPLERS
from promptsearch.search.selection import with_task_selection
from promptsearch.service import models
from promptsearch.service.hooks import QUIET, Hooks, Interrupted, plural
from promptsearch.storage.store import SearchRecord, Store, trial_score
from promptsearch.strategies import STRATEGIES, check_space


@dataclass
class RunResult:
    store: Store
    record: SearchRecord
    summary: RunSummary | None = None  # None when the trials ran in worker processes
    workers: list[Any] = field(default_factory=list)  # optimize --workers: one WorkerExit each
    model: str = ""  # the loaded model's name


def as_task(task: TaskSpec | str | Path) -> TaskSpec:
    return task if isinstance(task, TaskSpec) else load_task(task)


def as_space(space: SpaceSpec | str | Path) -> SpaceSpec:
    return space if isinstance(space, SpaceSpec) else load_space(space)


def open_store(db: Store | str, **options: Any) -> Store:
    """An existing database (`read_only=True` for the commands that only read)."""
    return db if isinstance(db, Store) else Store(db, create=False, **options)


def record_of(store: Store, search: SearchRecord | str) -> SearchRecord:
    return search if isinstance(search, SearchRecord) else store.get_search(search)


def _existing_store(db: Store | str, read_only: bool = False) -> Store | None:
    """The database if it already holds searches; None for one that does not exist yet (it is
    created only once every check has passed)."""
    try:
        return open_store(db, read_only=read_only)
    except NotFoundError:
        return None


@dataclass(frozen=True, kw_only=True)
class NewSearch:
    """A search that passed every check that needs no model; `create` writes it."""

    db: Store | str
    store: Store | None
    name: str
    task: TaskSpec
    space: SpaceSpec
    model: str
    settings: SearchSettings
    plain_as_user_message: bool = False  # a remote server without /v1/completions (with_label_scoring)


def check_new_search(db: Store | str, task: TaskSpec | str | Path, space: SpaceSpec | str | Path, *,
                     name: str | None, model: str, settings: SearchSettings, read_only: bool = False) -> NewSearch:
    """Every check of a new search that needs no model: files, settings, name, data, model path.
    Local model paths are stored resolved, so `resume` finds them from any folder. `read_only`:
    an existing database is only read (a dry run)."""
    plugins.load()  # the installed and $PROMPTSEARCH_PLUGINS plug-ins, before any name is looked up
    task, space = as_task(task), as_space(space)
    check_space(space)
    if space.formats:  # `formats.names` must name the task's fields
        check_format_names(FormatSpec.from_dict(space.formats), (*task.inputs, task.output), space.source)
    if name is None:  # the task's name: a bad one is the task file's field, not a flag
        name = check_name(task.name, f"{task.source}: field 'name'", "; or pass --name")
    else:
        name = check_name(name, "--name")
    settings = with_task_selection(settings, task)  # the task file's `selection:` unless a flag set it
    check_settings(settings)
    models.check_api_bases(model, settings.api_base, settings.proposer, settings.proposer_api_base)
    settings = replace(settings, objectives=objectives.stored(settings.objectives))  # "score,prompt_tokens"
    model = models.stored_spec(model)
    if settings.proposer is not None:
        settings = replace(settings, proposer=models.stored_spec(settings.proposer, "--proposer"))
    check_data(task, run_code=not read_only, settings=settings)  # a dry run parses a Python metric, never runs it
    store = _existing_store(db, read_only)
    if store is not None and store.find_search(name) is not None:  # fail before the model loads
        raise UserError(f"a search named '{name}' already exists in {store.shown_url}; "
                        f"continue it with `promptsearch resume {name} --trials N` or choose another --name")
    return NewSearch(db=db, store=store, name=name, task=task, space=space, model=model, settings=settings)


def create(new: NewSearch, trials: int | None) -> tuple[Store, SearchRecord]:
    """The first write: the search and its trial target (what workers joining later aim at)."""
    store = new.store or (new.db if isinstance(new.db, Store) else Store(new.db))
    settings, task = models.stored_secrets_masked(new.settings, new.task)  # never in the database
    record = new_search(store, new.name, task, new.space, new.model, settings)
    plugins.record(store.load_study(record), _used(new))
    if new.plain_as_user_message:
        store.load_study(record).set_user_attr(PLAIN_AS_USER_ATTR, True)
    if trials is not None:
        store.set_trial_target(record, trials)
    return store, record


def _used(new: NewSearch) -> list[object]:
    """What a search names from a registry: a plug-in's module among them is stored with it."""
    s = new.settings
    named: list[tuple[Registry[Any], object]] = [(METRICS, new.task.metric), (SAMPLERS, s.sampler), (PRUNERS, s.pruner),
             *((STRATEGIES, name) for name in new.space.strategies)]
    return [registry.get(name) for registry, name in named if isinstance(name, str) and name in registry]


def require_plugins(store: Store, record: SearchRecord) -> None:
    """Import the plug-ins a stored search was made with, before its task or settings are read:
    a one-line error naming the module that cannot be imported here."""
    plugins.load()
    plugins.require(store.load_study(record), record.name)


def load_checked(model: str, settings: SearchSettings | dict, task: TaskSpec, hooks: Hooks = QUIET,
                 api_base: str | None = None, concurrency: int | None = None, lm: LM | None = None) -> LM:
    """The task model (`lm`, or `model` loaded with the search's settings; `api_base`, `concurrency`:
    this run's own) through the command's loader (models.command_models), checked against the task."""
    s = settings.to_dict() if isinstance(settings, SearchSettings) else settings
    with models.command_models() as loader:
        if lm is not None:
            loader.task(model, lm)
        else:
            with hooks.status(f"loading model {model} …"):
                lm = loader.task(model, device=s.get("device"), dtype=s.get("dtype"),
                                 batch_size=s.get("batch_size", 32), api_base=api_base or s.get("api_base"),
                                 concurrency=concurrency or s.get("concurrency"))
    models.check_model(task, lm, model, s.get("label_scoring", "sum"))
    return lm


@contextlib.contextmanager
def one_command() -> Iterator[None]:
    """The scope of one command: each data file parsed once (data.dataset.read_once) and every
    model loaded once, through one loader (models.command_models)."""
    with read_once(), models.command_models():
        yield


def with_label_scoring(new: NewSearch, lm: LM, hooks: Hooks = QUIET) -> NewSearch:
    """The new search with the label scoring it will store (`auto` probes the model once and says
    which mode it took and why: evaluate/labels.py), and, for a remote model and a space with the
    plain layout, whether its server takes raw text (RemoteLM.probe_plain) or gets one user message."""
    mode, why = models.resolve_label_scoring(new.task, lm, new.settings.label_scoring)
    if why is not None:
        hooks.note(f"label scoring: {describe_label_scoring(mode)}, because {why}")
    as_user = "plain" in new.space.templates and not getattr(lm, "probe_plain", lambda: True)()
    if as_user:  # stored with the search (PLAIN_AS_USER_ATTR): `export --format chat` writes that message
        hooks.note("plain layout: the server has no /v1/completions, so a plain prompt is sent as one user "
                   "message; the search records this, and export writes that message")
    return replace(new, settings=replace(new.settings, label_scoring=mode), plain_as_user_message=as_user)


@dataclass(frozen=True)
class CheckedSearch:
    """A new search that passed every check, with and without its model: what `optimize`
    writes and `plan` estimates. Built once by `checked_search`."""

    new: NewSearch
    lm: LM
    limits: Budget | None


def checked_search(db: Store | str, task: TaskSpec | str | Path, space: SpaceSpec | str | Path, *, trials: int,
                   name: str | None, model: str, settings: SearchSettings | None, lm: LM | None, hooks: Hooks,
                   budget: Any, workers: int = 1, read_only: bool = False) -> CheckedSearch:
    """Every check of a new search, each run once and in order (arguments, files, settings, name,
    data, budget; then the model: labels, context, prompts, metric, proposer). Nothing is written.
    Call it inside `one_command()`, so each data file is parsed once and each model loaded once."""
    check_int("--trials", trials, "trials")
    check_int("--workers", workers, "workers")
    limits = parse_budget(budget)
    check_budget(limits, models.is_remote(model), model)
    new = check_new_search(db, task, space, name=name, model=model, settings=settings or SearchSettings(),
                           read_only=read_only)
    lm = load_checked(new.model, new.settings, new.task, hooks, lm=lm)
    new = with_label_scoring(new, lm, hooks)
    if not read_only:
        check_counted(limits, lm, new.model)
    preflight(new, lm, hooks)
    return CheckedSearch(new=new, lm=lm, limits=limits)


def optimize(db: Store | str, task: TaskSpec | str | Path, space: SpaceSpec | str | Path, *, trials: int,
             name: str | None = None, model: str = "smollm2", settings: SearchSettings | None = None,
             workers: int = 1, lm: LM | None = None, hooks: Hooks = QUIET, budget: Any = None,
             **run_options: Any) -> RunResult:
    """Check everything, create the search, run `trials` trials (in `workers` processes if > 1).
    `budget`: limits on calls, tokens, seconds or dollars (search/budget.py), stored with the
    search. `run_options`: an Optuna `sampler` / `pruner` object for this run (see search.run_trials)."""
    with one_command():
        checked = checked_search(db, task, space, trials=trials, name=name, model=model, settings=settings,
                                 lm=lm, hooks=hooks, budget=budget, workers=workers)
        new = checked.new
        store, record = create(new, trials)
        set_budget(store, record, checked.limits, hooks)
        if workers > 1:  # each worker loads its own; this one only proved that the model loads and fits
            del checked
            with models.command_models() as loader:
                loader.release()
            gc.collect()
            hooks.note(f"search {new.name}: task {new.task.name}, space {new.space.name}, "
                       f"model {new.model}, {plural(workers, 'worker')}")
            return run_pool(store, record, workers, trials, hooks)
        hooks.note(f"search {new.name}: task {new.task.name}, space {new.space.name}, model {checked.lm.name}")
        return run(store, record, checked.lm, trials, hooks, **run_options)


def check_stored(store: Store, record: SearchRecord) -> tuple[TaskSpec, SearchSettings]:
    """The checks of a stored search before it runs again (`resume`, `worker`): its plug-ins, its
    data and metric unchanged since it was made, its settings; its task and settings."""
    require_plugins(store, record)
    check_unchanged(record)  # before the model loads and before anything is written
    task, _, settings = open_parts(record)
    check_settings(settings)
    check_data(task, settings=settings)  # its files may have changed since the search was made
    return task, settings


def resume(db: Store | str, search: SearchRecord | str, trials: int | None = None, *, lm: LM | None = None,
           hooks: Hooks = QUIET, budget: Any = None, concurrency: int | None = None,
           **run_options: Any) -> RunResult:
    """Run `trials` more trials of a stored search with its stored task, space, model and settings
    (None: the trials it still needs to reach its stored target; none left: nothing runs).
    `budget` replaces the stored limits of the kinds it names (e.g. raises calls=...);
    `concurrency`: this run's requests in flight to a remote model instead of the stored one."""
    if trials is not None:
        check_int("--trials", trials, "trials")
    if concurrency is not None:
        check_int("--concurrency", concurrency, "concurrency")
    limits = parse_budget(budget)
    store = open_store(db)
    record = record_of(store, search)
    with one_command():
        check_budget(limits, models.is_remote(record.model), record.model)
        task, settings = check_stored(store, record)
        more = trials is not None
        if trials is None:  # finish the stored target (a stopped run, a crash), which stays as it is
            finished = store.slot_counts(record).finished
            trials = max(0, (store.trial_target(record) or 0) - finished)
            if not trials:
                hooks.note(f"search {record.name} already has {finished} of {store.trial_target(record) or 0} "
                           f"trials; add more with `promptsearch resume {record.name} --trials N`")
                return RunResult(store, record, RunSummary(), model=record.model)
        lm = load_checked(record.model, settings, task, hooks, concurrency=concurrency, lm=lm)
        check_counted(limits, lm, record.model)
        if more:
            store.raise_trial_target(record, trials)  # so workers joining later aim at the new count
        if limits:
            set_budget(store, record, stored_budget(store.load_study(record)).merged(limits), hooks)
        hooks.note(f"resuming {record.name} ({plural(len(completed_trials(store, record)), 'completed trial')} "
                   f"so far)")
        return run(store, record, lm, trials, hooks, **run_options)


def set_budget(store: Store, record: SearchRecord, budget: Budget | None, hooks: Hooks = QUIET) -> None:
    """Store the search's budget (in its study: workers and `resume` read it from there)."""
    if budget:
        store_budget(store.load_study(record), budget)
        hooks.note(f"budget: {budget.describe()}")


def preflight(new: NewSearch, lm: LM, hooks: Hooks = QUIET) -> None:
    """The checks of a new search that need its model: prompt lengths, labels, the metric
    (search/checks.py). Errors raise; warnings go to hooks.warn."""
    for warning in checks.preflight(new.task, new.space, lm, new.settings):
        hooks.warn(warning)
    models.check_proposer(new.settings.proposer, new.settings.proposer_api_base)


def run(store: Store, record: SearchRecord, lm: LM, trials: int, hooks: Hooks = QUIET,
        **run_options: Any) -> RunResult:
    """Run trials in this process with a progress display; Ctrl-C keeps the completed trials."""
    already = len(finished_trials(store, record))
    try:
        with hooks.trials(trials, already) as sink:
            def on_trial(event) -> None:
                sink.update(event)
                if hooks.on_trial is not None:
                    hooks.on_trial(event)
            summary = run_trials(store, record, lm, trials, on_trial=on_trial, **run_options)
    except KeyboardInterrupt:
        done = len(completed_trials(store, record))
        raise Interrupted(record, f"interrupted: {done} completed trials are saved; continue with "
                                  f"`promptsearch resume {record.name} --trials N`") from None
    except UserError as e:  # after the first write: say what is kept and how to go on
        raise saved(e, store, record) from None
    return RunResult(store, record, summary, model=lm.name)


def saved(error: UserError, store: Store, record: SearchRecord) -> UserError:
    """`error` with what a user can do with the search that was already written."""
    if "resume" in str(error) or "completed trials are kept" in str(error):
        return error
    done = len(completed_trials(store, record))
    return type(error)(f"{error}; search '{record.name}' is saved with {done} completed trials: fix this, "
                       f"then continue with `promptsearch resume {record.name} --trials N`")


def run_pool(store: Store, record: SearchRecord, n_workers: int, trials: int, hooks: Hooks = QUIET) -> RunResult:
    """`optimize --workers N`: N worker processes on the new search; progress read from the database."""
    from optuna.trial import TrialState

    from promptsearch.search.workers import WorkerPool

    pool = WorkerPool(store.url, record.name, n_workers)
    _start_with_api_bases(pool)
    try:
        with hooks.trials(trials, 0) as sink:
            def tick() -> None:
                _, finished, _ = store.slot_counts(record)
                top = store.load_study(record).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                sink.show(finished, max((trial_score(t) for t in top), default=None))
            exits = pool.wait(on_tick=tick)
    except KeyboardInterrupt:
        pool.interrupt()
        raise Interrupted(record, f"interrupted: completed trials are saved; continue with "
                                  f"`promptsearch worker {record.name}` (one per process)") from None
    finally:
        pool.close()
    return RunResult(store, record, None, workers=exits)


def _start_with_api_bases(pool: Any) -> None:
    """Workers read the search from the database, where API bases are stored without their
    credentials: they get the full URLs given here in their environment (not on their command
    line, where other users of the machine could read them)."""
    import os

    from promptsearch.lm.urls import ENV_API_BASE, known_api_bases

    given = known_api_bases()
    before = os.environ.get(ENV_API_BASE)
    if given:
        os.environ[ENV_API_BASE] = " ".join(filter(None, (given, before)))
    try:
        pool.start()
    finally:
        if given:
            if before is None:
                os.environ.pop(ENV_API_BASE, None)
            else:
                os.environ[ENV_API_BASE] = before
