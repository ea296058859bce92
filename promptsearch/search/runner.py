"""The search loop: Optuna asks for a point, we render and score it, Optuna is told the score.

Each trial's evaluations are committed, then the trial itself, before the next trial starts; so
a crash or Ctrl-C loses at most the trial in flight, and `resume` continues from the database.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import optuna
from optuna.trial import TrialState

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, load_split
from promptsearch.errors import ConfigError, UserError
from promptsearch.evaluate.evaluator import Decoding, Evaluator
from promptsearch.lm.base import LM
from promptsearch.render.prompt import Candidate, PromptTemplate, render
from promptsearch.search.params import build_candidate, suggest
from promptsearch.storage.store import SearchRecord, Store

log = logging.getLogger(__name__)
SAMPLERS = ("tpe", "random")


@dataclass(frozen=True)
class SearchSettings:
    seed: int = 0
    dev_limit: int | None = None  # score on the first N dev examples only
    batch_size: int = 32
    sampler: str = "tpe"
    max_new_tokens: int = 32  # generation tasks
    device: str | None = None
    dtype: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrialEvent:
    """What the loop reports after each finished trial (the CLI turns it into a progress bar)."""

    number: int
    score: float
    best: float
    completed: int  # completed trials in the study so far
    target: int  # completed trials the run stops at
    examples_computed: int  # dev examples that needed the model in this trial
    seconds: float


@dataclass
class RunSummary:
    completed: int = 0  # trials completed by this run
    examples_computed: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    failed_stale: list[int] = field(default_factory=list)


def create_search(store: Store, name: str, task: TaskSpec, space: SpaceSpec, model: str,
                  settings: SearchSettings) -> SearchRecord:
    """Check the task's data and the settings, then store the search (nothing is written on error)."""
    if settings.sampler not in SAMPLERS:
        raise ConfigError(f"--sampler: '{settings.sampler}' is not known; allowed: {', '.join(SAMPLERS)}")
    if settings.dev_limit is not None and settings.dev_limit < 1:
        raise ConfigError(f"--dev-limit: must be at least 1, got {settings.dev_limit}")
    check_data(task)
    return store.create_search(name, task.to_dict(), space.to_dict(), model, settings.to_dict())


def check_data(task: TaskSpec) -> None:
    """Read every split once: a bad row raises a one-line error before anything is written."""
    for split in ("train", "dev", "test"):
        load_split(task, split)


def open_parts(record: SearchRecord) -> tuple[TaskSpec, SpaceSpec, SearchSettings]:
    return (TaskSpec.from_dict(record.task), SpaceSpec.from_dict(record.space),
            SearchSettings(**record.settings))


def render_candidate(candidate: Candidate, task: TaskSpec, lm: LM | None) -> PromptTemplate:
    return render(candidate, task, lm.apply_chat_template if lm is not None else None)


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Mark trials left RUNNING by a killed process as FAIL, so their points can be retried.

    One process runs a search at a time here; a trial still RUNNING when `resume` starts
    belongs to a process that no longer runs.
    """
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        log.warning("trial %d was left running by a stopped process: marked failed", t.number)
    return [t.number for t in stale]


def _sampler(settings: SearchSettings, n_existing: int) -> optuna.samplers.BaseSampler:
    # Offset the seed by the trials already run: a resumed TPE must not replay the first
    # run's random start-up points.
    seed = settings.seed + n_existing
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)


def run_search(store: Store, record: SearchRecord, lm: LM, n_trials: int,
               on_trial: Callable[[TrialEvent], None] | None = None) -> RunSummary:
    """Run until `n_trials` more trials have completed."""
    if n_trials < 1:
        raise UserError(f"--trials: must be at least 1, got {n_trials}")
    task, space, settings = open_parts(record)
    train = load_split(task, "train")
    dev = load_split(task, "dev", settings.dev_limit)
    study = store.load_study(record)
    summary = RunSummary(failed_stale=fail_stale_trials(study))
    study.sampler = _sampler(settings, len(study.trials))
    evaluator = Evaluator(lm, task, store, Decoding(max_new_tokens=settings.max_new_tokens))
    completed = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    target = completed + n_trials
    start = time.perf_counter()
    while completed < target:
        trial = study.ask()
        try:
            score, computed, seconds = _run_trial(trial, store, record, space, task, train, dev, lm, evaluator)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)  # Ctrl-C or a crash: the finished trials stay
            raise
        study.tell(trial, score)
        completed += 1
        summary.completed += 1
        summary.examples_computed += computed
        summary.model_seconds += seconds if computed else 0.0
        if on_trial is not None:
            on_trial(TrialEvent(trial.number, score, study.best_value, completed, target, computed, seconds))
    summary.wall_seconds = time.perf_counter() - start
    return summary


def _run_trial(trial: optuna.Trial, store: Store, record: SearchRecord, space: SpaceSpec,
               task: TaskSpec, train: list[Example], dev: list[Example], lm: LM,
               evaluator: Evaluator) -> tuple[float, int, float]:
    params = suggest(trial, space, task)
    candidate = build_candidate(params, space, task, train)
    prompt = render_candidate(candidate, task, lm)
    store.save_candidate(record.id, prompt_hash=prompt.hash, prompt=prompt.with_placeholders(),
                         answer_prefix=prompt.answer_prefix, instruction=candidate.instruction,
                         demos=[d.fields for d in candidate.demos], cot_trigger=candidate.cot_trigger,
                         template=candidate.template, params=params)
    trial.set_user_attr("prompt_hash", prompt.hash)
    trial.set_user_attr("n_demos", len(candidate.demos))
    trial.set_user_attr("prompt", prompt.with_placeholders()[:2000])  # visible in optuna-dashboard
    evaluation = evaluator.evaluate(prompt, dev)
    trial.set_user_attr("dev_examples", len(dev))
    return evaluation.score, evaluation.computed, evaluation.seconds
