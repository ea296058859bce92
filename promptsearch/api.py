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

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptsearch import plugins, service
from promptsearch.config import SpaceSpec, TaskSpec, load_space, load_task
from promptsearch.errors import UserError
from promptsearch.lm.base import LM
from promptsearch.search import RunSummary, SearchSettings, TrialEvent
from promptsearch.search.results import Entry
from promptsearch.search.results import best as _best
from promptsearch.search.results import leaderboard as _leaderboard
from promptsearch.storage import DEFAULT_URL, SearchRecord, Store

__all__ = ["DEFAULT_URL", "Entry", "RunSummary", "SearchRecord", "SearchSettings", "SpaceSpec", "Store",
           "TaskSpec", "TrialEvent", "backup_database", "best", "create_search", "dev_evidence", "evaluate_heldout",
           "export_prompt",
           "leaderboard", "load_lm", "load_space", "load_task", "optimize", "pareto_front", "plan", "probe",
           "proposals", "resume", "run_search",
           "score_by_format",
           "write_report"]
__all__ += ["check_prompt", "compare_trials", "load_prompt", "race_summary", "run_prompt", "selection",
            "trial_examples"]


def load_plugins(*modules: str) -> tuple[str, ...]:
    """Import plug-in modules (docs/extending.md) by name, after the installed `promptsearch.plugins`
    entry points and $PROMPTSEARCH_PLUGINS. A search made afterwards stores them, so `resume`,
    worker processes and `eval` import them again. Returns every plug-in module loaded so far."""
    return plugins.load(modules)


def load_lm(spec: str | None = "smollm2", *, device: str | None = None, dtype: str | None = None,
            batch_size: int = 32, api_base: str | None = None, **remote_options: Any) -> LM:
    """A local model ("smollm2", a checkpoint folder, a .gguf file) or a remote one
    ("provider/model", e.g. "openai/gpt-4o-mini"; `api_base` for an OpenAI-compatible server)."""
    return service.load_model(spec, device=device, dtype=dtype, batch_size=batch_size, api_base=api_base,
                              **remote_options)


def _settings(settings: dict[str, Any], where: str) -> SearchSettings:
    try:
        return SearchSettings(**settings)
    except TypeError as e:
        known = ", ".join(SearchSettings.__dataclass_fields__)
        raise UserError(f"{where}: {e}; settings are {known}") from None


def create_search(store: Store, name: str, task: TaskSpec | str | Path, space: SpaceSpec | str | Path,
                  *, model: str = "smollm2", lm: LM | None = None, **settings: Any) -> SearchRecord:
    """Store a new search (no trial runs yet). `settings`: any SearchSettings field, e.g.
    dev_limit=32, seed=0, sampler="tpe", pruner="wilcoxon", max_new_tokens=32, label_scoring="mean"
    (sampler and pruner by name; an Optuna object goes to run_search or optimize). With `lm` (the
    loaded `model`), the model checks of `optimize` (context, labels, metric) run first; their
    warnings are logged."""
    new = service.check_new_search(store, task, space, name=name, model=model,
                                   settings=_settings(settings, "create_search"))
    if lm is not None:
        service.check_model(new.task, lm, new.model, new.settings.label_scoring)
        new = service.with_label_scoring(new, lm)
        service.preflight(new, lm)
    elif new.settings.label_scoring == "auto" and new.task.is_classification:
        raise UserError("create_search: label_scoring='auto' probes the model; pass lm=, or name a mode "
                        "(sum, mean, first-token, generate)")
    return service.create(new, None)[1]


def run_search(store: Store, search: SearchRecord | str, trials: int | None, *, lm: LM | None = None,
               on_trial: Callable[[TrialEvent], None] | None = None, sampler: Any = None,
               pruner: Any = None, budget: Any = None, concurrency: int | None = None) -> RunSummary:
    """Run `trials` more trials (complete or pruned). A stopped search continues where it was;
    one whose data or metric file changed since it was created is refused (UserError).
    `sampler` / `pruner`: an Optuna sampler or pruner object for this run, instead of the one
    the search's settings name (each trial records its class). `budget` ("calls=5000,tokens=2e6"
    or {"calls": 5000}) sets or raises the stored budget; the run stops before crossing it and
    says why in `RunSummary.stopped`. `concurrency`: requests in flight to a remote model for
    this run (default: the search's setting)."""
    result = service.resume(store, search, trials, lm=lm, hooks=service.Hooks(on_trial=on_trial),
                            sampler=sampler, pruner=pruner, budget=budget, concurrency=concurrency)
    assert result.summary is not None
    return result.summary


def resume(store: Store, search: SearchRecord | str, trials: int | None = None, *, lm: LM | None = None,
           on_trial: Callable[[TrialEvent], None] | None = None, sampler: Any = None,
           pruner: Any = None, budget: Any = None, concurrency: int | None = None) -> RunSummary:
    """`promptsearch resume`: the same as run_search on an existing search; `trials=None` runs
    the trials it still needs to reach its stored target (none if it has them)."""
    return run_search(store, search, trials, lm=lm, on_trial=on_trial, sampler=sampler, pruner=pruner,
                      budget=budget, concurrency=concurrency)


def optimize(task: TaskSpec | str | Path, space: SpaceSpec | str | Path = "search_spaces/default.yaml", *,
             trials: int = 20, name: str | None = None, model: str = "smollm2", db: str = DEFAULT_URL,
             lm: LM | None = None, budget: Any = None, dry_run: bool = False, **settings: Any) -> Any:
    """`promptsearch optimize` in one call: create the search and run it. Returns (store, search).
    `sampler` and `pruner` may be names (stored with the search) or Optuna objects (used for
    this run; the search stores the default names). `budget`: "calls=5000,seconds=600" or a
    dict, stored with the search. `dry_run=True` runs nothing, writes nothing and returns the
    Plan (as `plan`)."""
    if dry_run:
        return plan(task, space, trials=trials, name=name, model=model, db=db, lm=lm, budget=budget, **settings)
    objects = {k: settings.pop(k) for k in ("sampler", "pruner") if not isinstance(settings.get(k, ""), str)}
    result = service.optimize(db, task, space, trials=trials, name=name, model=model, lm=lm,
                              settings=_settings(settings, "optimize"), budget=budget, **objects)
    return result.store, result.record


def plan(task: TaskSpec | str | Path, space: SpaceSpec | str | Path = "search_spaces/default.yaml", *,
         trials: int = 20, name: str | None = None, model: str = "smollm2", db: str = DEFAULT_URL,
         lm: LM | None = None, budget: Any = None, **settings: Any):
    """`promptsearch optimize --dry-run`: the Plan of a search (trials, model calls and tokens per
    trial, by strategy, for bootstrapping and proposal rounds; `.total`, `.to_dict()`), after
    every check `optimize` makes. Nothing is scored and nothing is written."""
    return service.plan(db, task, space, trials=trials, name=name, model=model, lm=lm,
                        settings=_settings(settings, "plan"), budget=budget)


def best(store: Store, search: SearchRecord | str) -> Entry:
    """The best candidate so far: `.score` (dev), `.trial`, `.candidate.prompt` and its parts."""
    return _best(store, service.record_of(store, search))


def dev_evidence(store: Store, search: SearchRecord | str) -> Any:
    """How much the dev data supports the best trial: a DevEvidence (`.difference` over the first
    trial -- the start prompt -- with a 95% interval, `.test`, `.p_value`, `.significant`,
    `.reading()`) from the per-example dev scores both trials stored, no model call; None when
    the first trial is the best or there is nothing to compare. `evaluate_heldout` is the proof."""
    return service.evidence(store, search)


def selection(store: Store, search: SearchRecord | str) -> dict | None:
    """A search made with `select_fraction=`: the held-out split (`examples`, `example_ids`),
    the re-scores of the top candidates by dev (`scores`: trial, dev, selection, and pooled: the
    metric over dev and the held-out examples together, which the pick is made on) and the `pick`
    that `best` returns; None without a split. See docs/using_results.md."""
    return service.selection(store, search)


def race_summary(store: Store, search: SearchRecord | str) -> dict | None:
    """A search made with `race=True`: how the race went (`dev_examples`; `complete`: candidates
    scored on all of dev; `stopped` and `stopped_at` {examples: trials}; `examples_scored` against
    `examples_without_racing`); None for a search that does not race. See docs/using_results.md."""
    return service.race_summary(store, search)


def leaderboard(store: Store, search: SearchRecord | str, k: int | None = 5) -> list[Entry]:
    return _leaderboard(store, service.record_of(store, search), k)


def proposals(store: Store, search: SearchRecord | str) -> list[dict]:
    """The instructions the proposer wrote, one dict each: `text`, `round`, `method`, `accepted`,
    `reason` (why not tried: rejected, or "screened out: rank 5 of 8, score -2.31 < -1.90"),
    `screen_score` (None without a screen), `parents` (pool indices), `failures` (dev example ids a
    reflection saw), `index` (pool index), `trials` and `best` (dev score)."""
    return service.proposals(store, search)


def export_prompt(store: Store, search: SearchRecord | str, fmt: str = "text", path: str | Path | None = None,
                  *, overwrite: bool = False, pick: Any = None, lm: LM | None = None) -> str:
    """`promptsearch export`: the best candidate in a format of `promptsearch.export.EXPORTERS`,
    also written to `path` if given (atomically). `pick="shortest-within 0.01"` (or
    ("shortest-within", 0.01)) exports the shortest prompt within 0.01 of the best dev score
    instead; on a single-objective search it counts tokens with the search's model (`lm` if
    given). (Not named `export`: that is the name of the package's subpackage.)"""
    return service.export(store, search, fmt, path, overwrite=overwrite, flag="export", force="overwrite=True",
                          pick=pick, pick_flag="pick", lm=lm)


def pareto_front(store: Store, search: SearchRecord | str, *, lm: LM | None = None) -> list[Any]:
    """Candidates on the dev score / prompt-token Pareto front, shortest first: `.entry` (trial,
    score, candidate) and `.tokens`. Stored with `objectives="score,prompt_tokens"`; otherwise the
    tokens are counted with the search's model (`lm` if given)."""
    return service.pareto_front(store, search, lm=lm)


def score_by_format(store: Store, search: SearchRecord | str) -> list[Any]:
    """Score by format choice: FormatScore rows (dimension, choice, best, mean, trials) for each
    format dimension the search's space sampled (empty without a `formats` block)."""
    return service.format_scores(store, search)


def evaluate_heldout(store: Store, search: SearchRecord | str, *, split: str = "test",
                     baseline: str = "first", limit: int | None = None, lm: LM | None = None,
                     save: bool = True, **options: Any):
    """`promptsearch eval`: best vs baseline on held-out data; returns a Verdict (stored by default).
    `options`: seed, resamples, api_base, concurrency."""
    unknown = set(options) - {"seed", "resamples", "api_base", "concurrency"}
    if unknown:
        raise UserError(f"evaluate_heldout: unknown option '{sorted(unknown)[0]}'; options are seed, resamples, "
                        f"api_base, concurrency")
    verdict, _ = service.evaluate(store, search, split=split, baseline=baseline, limit=limit, lm=lm, save=save,
                                  **options)
    return verdict


def probe(store: Store, search: SearchRecord | str, *, split: str = "dev", seed: int = 0,
          limit: int | None = None, lm: LM | None = None, save: bool = True, **options: Any):
    """`promptsearch probe`: the best prompt re-scored with its demos' labels shuffled, random, and
    with no demos; returns a Probe (`.variants` with deltas and 95% intervals, `.finding`,
    `.reading`), stored with the search by default. `options`: resamples, api_base."""
    unknown = set(options) - {"resamples", "api_base"}
    if unknown:
        raise UserError(f"probe: unknown option '{sorted(unknown)[0]}'; options are resamples, api_base")
    result, _ = service.probe(store, search, split=split, seed=seed, limit=limit, lm=lm, save=save, **options)
    return result


def write_report(store: Store, search: SearchRecord | str, path: str | Path, *, top: int = 10,
                 overwrite: bool = True) -> Path:
    """`promptsearch report`: one self-contained HTML file, written atomically."""
    return service.report(store, search, path, top=top, overwrite=overwrite, flag="write_report",
                          force="overwrite=True")


def trial_examples(store: Store, search: SearchRecord | str, trial: int | None = None, *, wrong: bool = False,
                   limit: int | None = None) -> Any:
    """`promptsearch show NAME --examples`: a trial's dev examples (default: the best trial) as a
    TrialExamples: `.shown` (what `wrong` -- lost points only -- and `limit` select, in dev order),
    `.outcomes` (every dev example), each with `.inputs`, `.expected`, `.prediction`, `.score`,
    `.feedback`; `.confusion()` for label tasks, `.to_dict()`. Read from the database, no model call."""
    return service.trial_examples(store, search, trial, wrong=wrong, limit=limit)


def compare_trials(store: Store, search: SearchRecord | str, a: int, b: int) -> Any:
    """`promptsearch compare NAME A B`: a TrialComparison of two complete trials on dev --
    `.differences` (examples where their predictions or scores differ), `.difference` (A - B with
    a 95% paired interval), `.test`, `.p_value`, `.reading()`, `.to_dict()`. No model call."""
    return service.compare_trials(store, search, a, b)


def load_prompt(source: str | Path, *, store: Store | str | None = None, trial: int | None = None) -> Any:
    """A found prompt that runs as it was scored: a JSON file from `promptsearch export NAME
    --format json` (no database needed), or with `store` a search's name (its best trial, or
    `trial`). `.predict(inputs, lm=None)` takes dicts with the task's input fields and returns
    Predictions (`.prediction`, `.probabilities` for label tasks, `.to_dict()`); without `lm` the
    search's model is loaded. `.task`, `.model`."""
    from promptsearch.service.runprompt import runnable

    if store is None and not str(source).lower().endswith(".json") and not Path(source).is_file():
        raise UserError(f"load_prompt: {source} is not a prompt JSON file; pass store=... to load a search by name")
    return runnable(store if store is not None else DEFAULT_URL, str(source), trial)


def run_prompt(prompt: str | Path, inputs: str | Path | list[dict], *, db: Store | str = DEFAULT_URL,
               trial: int | None = None, model: str | None = None, output: str | Path | None = None,
               overwrite: bool = False, lm: LM | None = None) -> Any:
    """`promptsearch run`: a search's prompt (by name, in `db`) or a prompt JSON file applied to
    `inputs` (a JSONL or CSV path, or a list of dicts). Returns a RunOutput (`.predictions`,
    `.text`: the JSON lines, also written to `output` if given)."""
    from promptsearch.service.runprompt import run_prompt as run

    return run(db, str(prompt), inputs if isinstance(inputs, list) else str(inputs), trial=trial, model=model,
               output=output, overwrite=overwrite, lm=lm)


def check_prompt(prompt: str | Path, task: TaskSpec | str | Path, *, split: str = "test",
                 min_score: float | None = None, baseline: str | Path | None = None, alpha: float = 0.05,
                 junit: str | Path | None = None, limit: int | None = None, model: str | None = None,
                 lm: LM | None = None) -> Any:
    """`promptsearch check`: score a prompt JSON file (and a baseline prompt file) on `split` of
    `task`. Returns a CheckResult: `.passed` (False when the score is below `min_score` or
    significantly worse than the baseline by the paired test at `alpha`), `.failures`,
    `.markdown()`, `.junit()` (also written to `junit`), `.to_dict()`."""
    from promptsearch.service.check import check_prompt as check

    return check(prompt, task, split=split, min_score=min_score, baseline=baseline, alpha=alpha, junit=junit,
                 limit=limit, model=model, lm=lm)


def backup_database(store: Store | str, path: str | Path, search: SearchRecord | str | None = None, *,
                    overwrite: bool = False) -> Path:
    """`promptsearch db backup`: copy an SQLite database (every search, or only `search`) into the
    new file `path` with SQLite's backup API: the way to copy a database, even while it is in use.
    PostgreSQL databases are refused (use pg_dump)."""
    return service.backup(store, path, search, overwrite=overwrite, flag="backup_database", force="overwrite=True")


def model_for(record: SearchRecord, api_base: str | None = None, concurrency: int | None = None) -> LM:
    """Load the model a search was made with, with its stored device, dtype, batch size and (remote
    models) API base and concurrency."""
    return service.model_for(record, api_base, concurrency)


def _in_api_words(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` whose errors about an argument name it as a Python caller passes it (`trials=`), where
    the service words them for the command line (`--trials`): UserError.in_api_words."""
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            reworded = e.in_api_words()
            if reworded is e:
                raise
            raise reworded from None
    return call


for _name, _fn in list(globals().items()):  # every public function of the API
    if inspect.isfunction(_fn) and _fn.__module__ == __name__ and not _name.startswith("_"):
        globals()[_name] = _in_api_words(_fn)
