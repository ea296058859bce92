"""Putting a search to use: eval (held-out verdict), export, report, and the read-only views."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optuna.trial import FrozenTrial

from promptsearch.config.limits import check_int
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError, NotFoundError, UserError, excerpt
from promptsearch.lm.base import LM
from promptsearch.search import pareto
from promptsearch.search.checks import check_unchanged
from promptsearch.search.format_scores import score_by_format
from promptsearch.search.results import (
    Entry,
    best,
    completed_trials,
    leaderboard,
    proposal_lineage,
    pruned_trials,
    trial_counts,
    trial_feedback,
)
from promptsearch.service import models
from promptsearch.service.files import check_output, held_files, write_output, write_with
from promptsearch.service.hooks import QUIET, Hooks
from promptsearch.service.searches import open_store, record_of, require_plugins
from promptsearch.storage.backup import not_sqlite
from promptsearch.storage.store import SearchRecord, Store, mask_url, trial_score


@models.in_command
def evaluate(db: Store | str, search: SearchRecord | str, *, split: str = "test", baseline: str = "first",
             limit: int | None = None, seed: int = 0, resamples: int | None = None, api_base: str | None = None,
             lm: LM | None = None, save: bool = True, hooks: Hooks = QUIET,
             concurrency: int | None = None) -> tuple[Any, int | None]:
    """Best vs baseline on held-out data: (Verdict, the stored verdict's id or None). `api_base`
    and `concurrency` replace the search's stored ones for a remote model."""
    from promptsearch.export.source import task_of
    from promptsearch.verdict import load_baseline_file, run_verdict, store_verdict
    from promptsearch.verdict.heldout import SPLITS

    _check_scoring_options(split, SPLITS, limit, seed, resamples)
    if concurrency is not None:
        check_int("--concurrency", concurrency, "concurrency")
    store = open_store(db)
    record = record_of(store, search)
    require_plugins(store, record)
    check_unchanged(record)  # its data or metric changed: refuse before anything else
    best(store, record)  # a search without a completed trial fails here, before the model loads
    task = task_of(record)
    if baseline != "first":
        load_baseline_file(baseline, task)  # so does a bad baseline file
    load_split(task, split)  # and a split file that went bad since the search
    if lm is None:
        with hooks.status(f"loading model {record.model} …"):
            lm = models.model_for(record, api_base=api_base, concurrency=concurrency)
    else:
        models.given(record.model, lm)
    # the first write is the first scored example
    models.check_model(task, lm, record.model, record.settings.get("label_scoring", "sum"))
    options: dict[str, Any] = {"seed": seed}
    if resamples is not None:
        options["resamples"] = resamples
    with hooks.status(f"scoring the best prompt and the baseline on {split} …"):
        verdict = run_verdict(store, record, lm, split=split, baseline=baseline, limit=limit, **options)
    return verdict, store_verdict(store, record, verdict, baseline) if save else None


@models.in_command
def probe(db: Store | str, search: SearchRecord | str, *, split: str = "dev", limit: int | None = None,
          seed: int = 0, resamples: int | None = None, api_base: str | None = None, lm: LM | None = None,
          save: bool = True, hooks: Hooks = QUIET) -> tuple[Any, int | None]:
    """The demo-label probe of the best prompt (verdict/probe.py): (Probe, the stored row's id or None)."""
    from promptsearch.export.source import task_of
    from promptsearch.verdict import run_probe, store_probe
    from promptsearch.verdict.probe import SPLITS, check_probeable

    _check_scoring_options(split, SPLITS, limit, seed, resamples)
    store = open_store(db)
    record = record_of(store, search)
    require_plugins(store, record)
    check_unchanged(record)
    top = best(store, record)  # no completed trial, or a best prompt without demos: before the model loads
    check_probeable(record, top.trial, top.candidate)
    task = task_of(record)
    load_split(task, split)
    if lm is None:
        with hooks.status(f"loading model {record.model} …"):
            lm = models.model_for(record, api_base=api_base)
    else:
        models.given(record.model, lm)
    models.check_model(task, lm, record.model, record.settings.get("label_scoring", "sum"))
    options: dict[str, Any] = {"seed": seed, "limit": limit}
    if resamples is not None:
        options["resamples"] = resamples
    with hooks.status(f"scoring the best prompt with shuffled, random and no demo labels on {split} …"):
        result = run_probe(store, record, lm, split=split, **options)
    return result, store_probe(store, record, result) if save else None


def _check_scoring_options(split: str, splits: Sequence[str], limit: int | None, seed: int,
                           resamples: int | None) -> None:
    """The options `eval` and `probe` share, checked before anything loads."""
    if split not in splits:
        raise ConfigError(f"--split: '{excerpt(split)}' is not allowed; use one of {', '.join(splits)}")
    if limit is not None:
        check_int("--limit", limit, "limit")
    check_int("--seed", seed, "seed")
    if resamples is not None:
        check_int("--resamples", resamples, "resamples")


def export(db: Store | str, search: SearchRecord | str, fmt: str = "text", path: str | Path | None = None, *,
           overwrite: bool = False, flag: str = "-o", force: str = "--force", pick: Any = None,
           pick_flag: str = "--pick", lm: LM | None = None, hooks: Hooks = QUIET) -> str:
    """The candidate `pick` chooses (default: the best; search/pareto.py) in a format of
    promptsearch.export.EXPORTERS, also written to `path` if given. `shortest-within` on a
    single-objective search counts tokens with the search's model (loaded unless `lm` is given)."""
    from promptsearch.export import EXPORTERS

    exporter = EXPORTERS.get(fmt, "export")
    rule, tolerance = pareto.parse_pick(pick, pick_flag)
    store = open_store(db, read_only=True)
    record = record_of(store, search)
    held = held_files(store)
    target = None if path is None else check_output(path, overwrite=overwrite, flag=flag, force=force, protect=held)
    if pareto.uses_counts(record, rule):
        best(store, record)  # no completed trial: say so before loading a model
        lm = lm or _model(record, hooks)
    entry = pareto.pick_entry(store, record, rule, tolerance, lm.count_tokens if lm is not None else None)
    text = exporter(store, record, entry)
    if target is not None:
        write_output(target, text, flag, held)
    return text


def pareto_front(db: Store | str, search: SearchRecord | str, *, lm: LM | None = None,
                 hooks: Hooks = QUIET) -> list[Any]:
    """The score / prompt-token Pareto front (search.pareto.Point rows, shortest first). A
    single-objective search's tokens are counted with its model (loaded unless `lm` is given)."""
    store = open_store(db, read_only=True)
    record = record_of(store, search)
    if not pareto.multi_objective(record) and completed_trials(store, record):
        lm = lm or _model(record, hooks)
    return pareto.front(store, record, lm.count_tokens if lm is not None else None)


def _model(record: SearchRecord, hooks: Hooks) -> LM:
    with hooks.status(f"loading model {record.model} for its tokenizer …"):
        return models.model_for(record)


def report(db: Store | str, search: SearchRecord | str, path: str | Path | None = None, *, top: int = 10,
           overwrite: bool = False, flag: str = "-o", force: str = "--force") -> Path:
    """One self-contained HTML file (default name: `<search>-report.html`)."""
    from promptsearch.report.data import collect
    from promptsearch.report.html import render_report

    check_int("--top", top, "top")
    store = open_store(db, read_only=True)
    record = record_of(store, search)
    held = held_files(store)
    target = check_output(f"{record.name}-report.html" if path is None else path, overwrite=overwrite, flag=flag,
                          force=force, protect=held)
    write_output(target, render_report(collect(store, record, top), mask_url(store.url)), flag, held)
    return target


def backup(db: Store | str, path: str | Path, search: SearchRecord | str | None = None, *,
           overwrite: bool = False, flag: str = "-o", force: str = "--force") -> Path:
    """`db backup`: a copy of an SQLite database in one new file, made with SQLite's backup API
    (consistent while searches run, WAL included): every search, or only `search`. The way to
    copy a database: copying the .db file alone can miss what is still in its -wal file."""
    if isinstance(db, str) and not db.startswith("sqlite"):  # before connecting to a server
        raise not_sqlite(mask_url(db))
    store = open_store(db, read_only=True)
    if store.sqlite_file is None:
        raise not_sqlite(store.shown_url)
    record = None if search is None else record_of(store, search)
    held = held_files(store)
    target = check_output(path, overwrite=overwrite, flag=flag, force=force, protect=held)
    write_with(target, lambda tmp: store.backup(tmp, record), flag, held)
    return target


@dataclass(kw_only=True)
class Overview:
    """What `show` displays."""

    store: Store
    record: SearchRecord
    counts: dict[str, int]
    entries: list[Entry]
    pruned: list[FrozenTrial]
    proposals: list[dict]
    feedback: list[dict]  # the metric's feedback on the best trial's lowest-scoring dev examples
    budget: Any = None  # search/budget.Budget (falsy: none)
    spent: Any = None  # search/budget.Spent: what the trials used
    probe: dict | None = None  # the latest demo-label probe (verdict/probe.py), as stored
    formats: list[Any] = field(default_factory=list)  # search.format_scores.FormatScore rows
    front: list[Any] = field(default_factory=list)  # search.pareto.Point: multi-objective searches only
    evidence: Any = None  # verdict.dev.DevEvidence: the best trial against the first on dev (None: n/a)
    plain_as_user_message: bool = False  # a chat-only server: plain prompts were sent as one user message
    selection: dict | None = None  # the selection split, its re-scores and the pick (search/pick.py)
    race: dict | None = None  # how the race went (search/racing.py): racing searches only


def overview(db: Store | str, name: str, top: int = 5) -> Overview:
    check_int("--top", top, "top")
    from promptsearch.export.chat import PLAIN_AS_USER_ATTR
    from promptsearch.search.budget import spent, stored_budget, with_selection
    from promptsearch.search.selection import stored_selection
    from promptsearch.verdict.dev import dev_evidence
    from promptsearch.verdict.store import load_probe

    store = open_store(db, read_only=True)
    record = store.get_search(name)
    entries = leaderboard(store, record, top)
    feedback = trial_feedback(store, record, entries[0].trial) if entries else []
    study = store.load_study(record)
    return Overview(store=store, record=record, counts=trial_counts(store, record), entries=entries,
                    pruned=pruned_trials(store, record)[-top:], proposals=proposal_lineage(store, record),
                    feedback=feedback, budget=stored_budget(study),
                    spent=with_selection(spent(study.get_trials(deepcopy=False)), study),
                    probe=load_probe(store, record), formats=score_by_format(store, record),
                    front=pareto.front(store, record) if pareto.multi_objective(record) else [],
                    evidence=dev_evidence(store, record),
                    plain_as_user_message=bool(study.user_attrs.get(PLAIN_AS_USER_ATTR)),
                    selection=stored_selection(study.user_attrs),
                    race=race_summary(store, record))


def selection(db: Store | str, search: SearchRecord | str) -> dict | None:
    """The search's selection split as stored (search/pick.py): `examples`, `example_ids`,
    `scores` (trial, dev, selection, pooled) of the re-scored candidates and the `pick`; None without one."""
    from promptsearch.search.selection import stored_selection

    store = open_store(db, read_only=True)
    return stored_selection(store.load_study(record_of(store, search)).user_attrs)


def race_summary(db: Store | str, search: SearchRecord | str) -> dict | None:
    """How a racing search's race went (search/racing.py summary); None for one that does not race."""
    from promptsearch.search.racing import summary

    store = open_store(db, read_only=True)
    record = record_of(store, search)
    return summary(store.load_study(record)) if record.settings.get("race") else None


def evidence(db: Store | str, search: SearchRecord | str) -> Any:
    """The best trial against the first on their stored dev scores (verdict/dev.py); None when
    there is nothing to compare."""
    from promptsearch.verdict.dev import dev_evidence

    store = open_store(db, read_only=True)
    return dev_evidence(store, record_of(store, search))


def proposals(db: Store | str, search: SearchRecord | str) -> list[dict]:
    """Every proposal of a search (results.proposal_lineage): text, round, method, accepted or
    why not (rejected, screened out), screen score, parents, failures shown, trials and best score."""
    store = open_store(db, read_only=True)
    return proposal_lineage(store, record_of(store, search))


def format_scores(db: Store | str, search: SearchRecord | str) -> list[Any]:
    """Score by format choice (search/format_scores.py); empty for a search without formats."""
    store = open_store(db, read_only=True)
    return score_by_format(store, record_of(store, search))


def searches(db: Store | str) -> list[tuple[SearchRecord, int, float | None]] | None:
    """(search, completed trials, best score) for every search; None when the database does not exist."""
    try:
        store = open_store(db, read_only=True)
    except NotFoundError:
        return None
    rows = []
    for record in store.list_searches():
        trials = completed_trials(store, record)
        rows.append((record, len(trials), max((trial_score(t) for t in trials), default=None)))
    return rows


def open_server(model: str, host: str, port: int, *, model_id: str | None = None, max_tokens: int = 256,
                batch_size: int = 32, device: str | None = None, dtype: str | None = None,
                hooks: Hooks = QUIET, request_timeout: float = 300.0, role: str = "full"):
    """`serve`: load a local model and bind its OpenAI-compatible server (not yet serving)."""
    from promptsearch.lm.remote import is_remote_spec
    from promptsearch.serve import make_server

    if is_remote_spec(model):
        raise ConfigError(f"--model {model}: serve needs a local model ('smollm2', a checkpoint "
                          f"folder or a .gguf file), not a remote one")
    with hooks.status(f"loading model {model} …"):
        lm = models.load_model(model, device=device, dtype=dtype, batch_size=batch_size)
    try:
        return make_server(lm, host, port, model_id or model, max_tokens, request_timeout, role), lm
    except OSError as e:
        raise UserError(f"--port {port}: cannot listen on {host} ({e.strerror}); choose another --port") from None


@dataclass
class Standing:
    """Where a search stands after a run: what `optimize`, `resume` and `worker` end with."""

    completed: int  # completed trials
    finished: int  # finished trials (completed, pruned or failed)
    target: int  # the stored trial target (0: none)
    entries: list[Entry]  # the leaderboard's top
    evidence: Any  # dev_evidence; None when there is nothing to compare


def standing(db: Store | str, search: SearchRecord | str, top: int = 5) -> Standing:
    from promptsearch.verdict.dev import dev_evidence

    store = open_store(db, read_only=True)
    record = record_of(store, search)
    entries = leaderboard(store, record, top)
    return Standing(completed=len(completed_trials(store, record)), finished=store.slot_counts(record).finished,
                    target=store.trial_target(record) or 0, entries=entries,
                    evidence=dev_evidence(store, record) if entries else None)


def best_entry(db: Store | str, search: SearchRecord | str) -> Entry:
    """The best completed trial; a one-line UserError when there is none."""
    store = open_store(db, read_only=True)
    return best(store, record_of(store, search))


def upgrade(db: str) -> dict[str, tuple[str | None, str]]:
    """`db upgrade`: our tables' and Optuna's schema versions, (before, after), by part."""
    from promptsearch.storage import upgrade_database

    return upgrade_database(db)
