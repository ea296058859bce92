"""A search's parts: its settings and checks (`new_search`), and the context a run works in.

The trial itself goes prepare -> score -> tell in pipeline.py (one trial is a batch of one), and
the loop that runs trials until a target (`run_trials`, `resume`, workers) is loop.py.

A candidate's strategy (direct, chain of thought, self-consistency, least-to-most) travels in
its rendered prompt, and the evaluator runs whatever strategy the prompt carries; demos with
rationales and nearest-neighbour demos come from the run's DemoSource (bootstrap.py).
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from promptsearch.config.limits import check_int
from promptsearch.config.propose import ProposeSpec
from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, load_split
from promptsearch.data.fingerprint import task_fingerprints
from promptsearch.data.metrics import check_metric
from promptsearch.errors import ConfigError, excerpt
from promptsearch.evaluate.evaluator import Evaluator, decoding_for_settings
from promptsearch.evaluate.labels import LABEL_SCORINGS
from promptsearch.lm.base import LM
from promptsearch.propose.methods import check_propose
from promptsearch.render import Candidate, Prompt, render
from promptsearch.search import objectives
from promptsearch.search.bootstrap import DemoSource
from promptsearch.search.budget import UsageMeter
from promptsearch.search.claims import Claims
from promptsearch.search.racing import Race, check_race, make_race
from promptsearch.search.sampling import PRUNERS, SAMPLERS, Fidelity, check_parallel, describe, fidelity, make_sampler
from promptsearch.search.selection import check_fraction, split_dev
from promptsearch.search.start import START_ATTR, queue_start
from promptsearch.storage.store import SearchRecord, Store
from promptsearch.strategies import Decoding, check_space

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SearchSettings:
    seed: int = 0
    dev_limit: int | None = None  # score on the first N dev examples only
    batch_size: int = 32
    sampler: str = "tpe"  # a name in search.sampling.SAMPLERS
    max_new_tokens: int = 32  # generation tasks
    device: str | None = None
    dtype: str | None = None
    pruner: str = "none"  # multi-fidelity (search.sampling.PRUNERS): score dev in chunks, stop losers early
    chunk_size: int = 16  # dev examples per fidelity step when a pruner is on
    proposer: str | None = None  # model writing instruction proposals (default: the task's model)
    api_base: str | None = None  # remote models: the OpenAI-compatible server's URL
    proposer_api_base: str | None = None  # for a remote proposer (an OpenAI-compatible server)
    label_scoring: str = "sum"  # "mean": rank labels by mean token log-prob (labels of unequal length)
    parallel_candidates: int = 1  # trials asked at once and scored in one engine call (search/pipeline.py)
    concurrency: int = 8  # remote models: requests in flight at once (lm/remote.py)
    objectives: str = "score"  # search/objectives.py: "score,prompt_tokens" makes the study multi-objective
    select_fraction: float | None = None  # search/selection.py: part of dev held out for the final pick
    select_top: int = 5  # candidates (best by dev) re-scored on the selection split at the end of a run
    race: bool = False  # search/racing.py: dev in rungs, only candidates that could still lead go on
    race_start: int | None = None  # examples in the first rung (None: a quarter of dev, at least 8)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class TrialEvent:
    """What the loop reports after each finished trial (the CLI turns it into a progress bar)."""

    number: int
    score: float
    best: float | None  # best complete trial so far (None while every trial was pruned)
    completed: int  # finished (complete or pruned) trials in the study so far
    target: int  # finished trials the run stops at
    examples_computed: int  # dev examples that needed the model in this trial
    seconds: float
    state: str = "complete"  # or "pruned" (score is then the partial mean)
    examples: int = 0  # dev examples the score is over (a pruned trial's: those scored before it stopped)


@dataclass(kw_only=True)
class RunSummary:
    completed: int = 0  # trials completed by this run
    pruned: int = 0  # trials stopped early by the pruner
    examples_computed: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0
    failed_stale: list[int] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped before its trials (a budget: search/budget.py)


def new_search(store: Store, name: str, task: TaskSpec, space: SpaceSpec, model: str,
                  settings: SearchSettings) -> SearchRecord:
    """Check the task's data, the space and the settings, then store the search (nothing is
    written on error)."""
    check_settings(settings)
    check_space(space)
    check_propose(space)
    check_data(task, settings=settings)
    # The files' digests go with the task, so resume/worker/eval can refuse changed data (checks.py).
    stored_task = {**task.to_dict(), "fingerprints": task_fingerprints(task)}
    record = store.add_search(name, stored_task, space.to_dict(), model, settings.to_dict(),
                                 objectives.directions(settings.objectives))
    queue_start(store.load_study(record), space, task)  # trial 0: the hand-written-style prompt
    return record


def check_settings(settings: SearchSettings) -> None:
    """Every setting in its range (promptsearch.config.limits), before anything is written."""
    for key in ("seed", "batch_size", "max_new_tokens", "chunk_size", "parallel_candidates", "concurrency",
                "select_top"):
        check_int(f"--{key.replace('_', '-')}", getattr(settings, key), key)
    if settings.dev_limit is not None:
        check_int("--dev-limit", settings.dev_limit, "dev_limit")
    for key in ("device", "dtype", "proposer", "api_base", "proposer_api_base"):
        value = getattr(settings, key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"--{key.replace('_', '-')}: must be a string, got {excerpt(value)}")
    for flag, value, registry in (("--sampler", settings.sampler, SAMPLERS), ("--pruner", settings.pruner, PRUNERS)):
        if not isinstance(value, str):
            raise ConfigError(f"{flag}: a search stores a name ({', '.join(registry.names())}); pass an Optuna "
                              f"{registry.kind} object to run_search(..., {registry.kind}=...) instead")
        registry.get(value, flag)
    check_parallel(settings.parallel_candidates, settings.pruner)
    objectives.check_objectives(settings.objectives, settings.pruner)
    check_fraction(settings.select_fraction)
    check_race(settings.race, settings.race_start, settings.pruner, settings.objectives)
    if settings.label_scoring not in LABEL_SCORINGS:
        raise ConfigError(f"--label-scoring: '{excerpt(settings.label_scoring)}' is not known; "
                          f"allowed: {', '.join(LABEL_SCORINGS)}")


def check_data(task: TaskSpec, run_code: bool = True, settings: SearchSettings | None = None) -> None:
    """Read every split once and resolve the metric: a bad row or metric raises a one-line error
    before anything is written. `run_code=False` (a dry run) imports no Python metric. With
    `settings`, a selection split must leave dev examples on both sides."""
    for split in ("train", "dev", "test"):
        load_split(task, split)
    check_metric(task, run_code)
    if settings is not None and settings.select_fraction is not None:
        split_dev(load_split(task, "dev", settings.dev_limit), settings.select_fraction, settings.seed)


def decoding_for(settings: SearchSettings) -> Decoding:
    """How a search obtains answers; part of every evaluation's cache key."""
    return decoding_for_settings(settings.max_new_tokens, settings.label_scoring)


def open_parts(record: SearchRecord) -> tuple[TaskSpec, SpaceSpec, SearchSettings]:
    return (TaskSpec.from_dict(record.task), SpaceSpec.from_dict(record.space),
            SearchSettings(**record.settings))


def render_candidate(candidate: Candidate, task: TaskSpec, lm: LM | None) -> Prompt:
    """A PromptTemplate, or a DynamicPrompt for nearest-neighbour demos, with the model's chat template."""
    return render(candidate, task, lm.apply_chat_template if lm is not None else None)


def dev_order(dev: list[Example], seed: int, fidelity: Fidelity, race: bool = False) -> list[Example]:
    """With a pruner or racing, the dev set in one seeded shuffled order, the same for every
    candidate: each fidelity step (each rung) is then an unbiased sample, and steps line up across
    trials."""
    if fidelity.chunk is None and not race:
        return dev
    order = list(dev)
    random.Random(f"dev-order:{seed}").shuffle(order)
    return order


@dataclass(kw_only=True)
class SearchContext:
    """Everything one run of a search works with; hooks (e.g. proposal) read and extend it."""

    store: Store
    record: SearchRecord
    lm: LM
    task: TaskSpec
    space: SpaceSpec
    settings: SearchSettings
    train: list[Example]
    dev: list[Example]
    study: optuna.Study
    evaluator: Evaluator
    instructions: list[str]  # the instruction pool: the space's seeds, plus any proposals
    claims: Claims  # how this run starts its trials, through `study` (see open_run)
    demos: DemoSource | None = None  # rationale demos and embeddings, computed when first needed
    dynamic_instructions: bool = False  # set by a proposal hook: the pool may grow
    instruction_origins: list[str] | None = None  # set by a proposal hook: each pool entry's group
    fidelity: Fidelity = field(default_factory=lambda: fidelity(optuna.pruners.NopPruner(), 1))
    trial_attrs: dict[str, str] = field(default_factory=dict)  # recorded on every trial of the run
    meter: UsageMeter | None = None  # stores each trial's model usage (search/budget.py)
    repeats: int = 0  # asks in a row that gave a candidate already scored (pipeline.py)
    exhausted: str | None = None  # set once the sampler offers only scored candidates: why the run stops
    selection: list[Example] = field(default_factory=list)  # held out of dev, for the final pick (selection.py)
    race: Race | None = None  # dev scored in rungs (racing.py); None: all of dev at once


# Called before each trial is asked for; may add instructions and enqueue trials.
TrialHook = Callable[[SearchContext], None]


def open_context(store: Store, record: SearchRecord, lm: LM,
                 pruner: optuna.pruners.BasePruner | None = None) -> SearchContext:
    """The run's parts; `pruner` (an Optuna object) replaces the one the settings name."""
    task, space, settings = open_parts(record)
    run_fidelity = fidelity(pruner or PRUNERS.get(settings.pruner, "--pruner")(settings.chunk_size),
                            settings.chunk_size)
    check_parallel(settings.parallel_candidates, run_fidelity.pruner)  # a pruner object given for this run
    objectives.check_pruner(settings.objectives, run_fidelity.chunk is not None)
    if settings.race and run_fidelity.chunk is not None:  # a pruner object given for this run
        raise ConfigError("pruner=: this search races (--race), which decides how much of dev a candidate gets; "
                          "run it without a pruner object")
    dev, selection = split_dev(load_split(task, "dev", settings.dev_limit), settings.select_fraction, settings.seed)
    dev = dev_order(dev, settings.seed, run_fidelity, settings.race)
    evaluator = Evaluator(lm, task, store.evaluations, decoding_for(settings))
    train = load_split(task, "train")
    demos = DemoSource(store, record.id, lm, task, space, train, evaluator)
    study = store.load_study(record)
    meter = UsageMeter(lm)
    for model in evaluator.metric.models() if evaluator.metric is not None else ():
        meter.watch(model)  # a judge: its calls are the search's too
    return SearchContext(store=store, record=record, lm=lm, task=task, space=space, settings=settings, train=train,
                         dev=dev, study=study, evaluator=evaluator, instructions=list(space.instructions),
                         claims=Claims(store, record, study), demos=demos, fidelity=run_fidelity, selection=selection,
                         trial_attrs={"pruner": describe(pruner)} if pruner is not None else {}, meter=meter,
                         race=make_race(settings.race, settings.race_start, len(dev)))


def open_run(store: Store, record: SearchRecord, lm: LM, seed_offset: int = 0, *,
             sampler: optuna.samplers.BaseSampler | None = None,
             pruner: optuna.pruners.BasePruner | None = None) -> SearchContext:
    """The context of a run that starts trials: stale trials failed and their points queued
    first, then the study loaded with this run's sampler and pruner; its claims go through it."""
    ctx = open_context(store, record, lm, pruner)
    ctx.claims.fail_stale()
    ctx.study = ctx.claims.study = _load_study(ctx, sampler, seed_offset)
    return ctx


def _load_study(ctx: SearchContext, sampler: optuna.samplers.BaseSampler | None, seed_offset: int) -> optuna.Study:
    """The study with this run's sampler and pruner (given to Optuna when it loads the study).

    A named sampler's seed is offset by the trials already run: a resumed TPE must not replay the
    first run's random start-up points. Workers add their own offset so that workers started
    together do not all draw the same start-up points."""
    if sampler is None:
        # The start trial (search/start.py) draws nothing: the first run samples as without it.
        drawn = sum(1 for t in ctx.study.trials if not t.user_attrs.get(START_ATTR))
        seed = (ctx.settings.seed + drawn + seed_offset) % 2**32  # numpy seeds are 32-bit
        sampler = make_sampler(ctx.settings.sampler, seed, ctx.settings.parallel_candidates,
                               start=int(ctx.space.start == "auto"))
    else:
        ctx.trial_attrs["sampler"] = describe(sampler)
    return ctx.store.load_study(ctx.record, sampler=sampler, pruner=ctx.fidelity.pruner)


def space_hooks(ctx: SearchContext) -> list[TrialHook]:
    """Hooks the search space asks for: LLM proposal when it has a `propose` block."""
    if not ctx.space.propose:
        return []
    from promptsearch.propose import ProposalHook, make_proposer
    proposer = make_proposer(ctx.settings.proposer, ctx.lm, api_base=ctx.settings.proposer_api_base)
    if ctx.meter is not None:
        ctx.meter.watch(proposer.usage_model())  # a separate proposer's calls count toward the budget
    return [ProposalHook(ProposeSpec.from_dict(ctx.space.propose), proposer)]
