"""A round of trials: claim -> prepare -> score -> tell. One trial is a batch of one.

With `--parallel-candidates k` a round has up to k trials; without, one. Either way it goes

    claim    up to k trials asked under one hold of the search lock (Claims.claim_many), each
             with its owner row, as many as the target leaves room for
    prepare  each trial's point sampled, rendered and its candidate stored, in ask order: the
             sampler sees the same calls in the same order whatever k is (a RandomSampler or an
             enqueued grid gives the same points; TPE uses its constant liar, so it differs).
             A candidate already scored in this search (or earlier in the round) is not scored
             again: its trial is failed with the user attribute `repeat_of` (the trial that
             scored it) and the sampler is asked again, at most MAX_REPEATS times in a row;
             then the space counts as exhausted and the run stops, saying so (ctx.exhausted).
             A failed trial holds no slot, so `--trials N` is N distinct candidates scored.
    score    every prompt x dev example together (Evaluator.evaluate_many; one prompt:
             Evaluator.evaluate), in fidelity chunks when a pruner is on (only with k = 1), or
             in rungs when the search races (racing.py; any k)
    tell     in ask order, each trial's user attributes (usage and `wall_seconds` since the
             previous round, shared by computed examples: UsageMeter.shares; dev scores) and
             its result committed before the next is told

So crash-safety is that of one trial: a process killed mid-round leaves its untold trials
RUNNING with an owner that is gone; the next claim (resume, or another worker) fails them as
stale and queues their points again, and their cached evaluations make the retries free. An
error or Ctrl-C fails every untold trial of the round at once.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from promptsearch.errors import ModelCallError
from promptsearch.evaluate.evaluator import Evaluation, ExampleResult
from promptsearch.render import Prompt
from promptsearch.search import objectives, racing
from promptsearch.search.budget import REPEAT_ATTR
from promptsearch.search.devscores import store_dev_results
from promptsearch.search.params import build_candidate, suggest
from promptsearch.search.racing import Race
from promptsearch.search.runner import SearchContext, TrialEvent, render_candidate
from promptsearch.search.sampling import Fidelity
from promptsearch.storage.retry import environment_error
from promptsearch.storage.store import trial_score

log = logging.getLogger(__name__)
MAX_REPEATS = 20  # asks in a row that only gave already-scored candidates: the space is exhausted


@dataclass(kw_only=True)
class _Slot:
    """A prepared trial and, once scored, how it went."""

    trial: optuna.Trial
    prompt: Prompt
    results: list[ExampleResult] = field(default_factory=list)
    computed: int = 0
    seconds: float = 0.0
    score: float = 0.0  # the metric's aggregate of the dev scores (a pruned trial's: of those scored)
    pruned: bool = False


def claim(ctx: SearchContext, room: int, target: int | None = None) -> list[optuna.Trial]:
    """This round's trials: min(k, room) of them (fewer, or none, when `target` is nearly reached
    by other workers). `target` None: the caller runs its own number of trials (resume)."""
    return ctx.claims.claim_many(min(ctx.settings.parallel_candidates, room), target)


def run_round(ctx: SearchContext, trials: Sequence[optuna.Trial], finished: int, target: int,
               claim_target: int | None = None) -> Iterator[TrialEvent]:
    """Prepare, score and tell claimed trials; yields each TrialEvent right after that trial is
    told (committed). `finished`: trials finished before these; `claim_target`: the target a
    replacement for a repeated candidate is claimed under. If the caller stops iterating early
    (its progress callback raised), the untold trials are failed when the generator is closed."""
    open_trials = list(trials)  # asked and not yet told
    try:
        slots = _prepare(ctx, open_trials, claim_target)
        if not slots:
            return
        try:
            _score(ctx, slots)
        except ModelCallError as e:  # the round fails (the loop counts it): what it used, and why
            for slot, spent in zip(slots, _shares(ctx, slots)):
                _set_attrs(slot.trial, {**spent, "error": str(e)[:500]})
            raise
        for slot, spent in zip(slots, _shares(ctx, slots)):
            state = _tell(ctx, slot, spent)
            open_trials.remove(slot.trial)
            finished += 1
            yield TrialEvent(number=slot.trial.number, score=slot.score, best=_best_value(ctx.study),
                             completed=finished, target=target, examples_computed=slot.computed, seconds=slot.seconds,
                             state=state, examples=len(slot.results))
    except UpdateFinishedTrialError:  # another worker failed it: this one was silent too long
        _abandon(ctx, open_trials[1:])  # the first untold trial is the one being written
        raise ctx.claims.taken_over(open_trials[0]) from None
    except BaseException as e:  # GeneratorExit included: the caller stopped iterating
        _abandon(ctx, open_trials)
        known = environment_error(e, ctx.store.shown_url) if isinstance(e, Exception) else None
        if known is not None:  # a full disk, a database made read-only meanwhile
            raise known from None
        raise


# --- prepare ---------------------------------------------------------------------------------

def _prepare(ctx: SearchContext, trials: list[optuna.Trial], claim_target: int | None) -> list[_Slot]:
    """Every trial's candidate, in ask order. A repeated candidate's trial is failed as a repeat
    and a replacement asked (appended to `trials`), one at a time, until none repeats or the space
    counts as exhausted. The trial after a repeat is sampled by `_resampler`: the search's own
    sampler, blind to failed trials, would often offer the same point again."""
    scored = _scored_hashes(ctx.study, {t.number for t in trials})
    slots: list[_Slot] = []
    todo = list(trials)
    while todo:
        trial = todo.pop(0)
        with _sampling(ctx, _resampler(ctx, trial.number)):
            prompt = _prepare_one(ctx, trial)
        first = scored.get(prompt.hash)
        if _retried(trial):  # a dead trial's point queued again: that trial was never scored, even if a
            first = None    # worker's cached view still shows it running
        if first is None:
            scored[prompt.hash] = trial.number
            slots.append(_Slot(trial=trial, prompt=prompt))
            ctx.repeats = 0
            continue
        _fail_repeat(ctx, trial, first)
        trials.remove(trial)
        ctx.repeats += 1
        if ctx.repeats >= MAX_REPEATS:  # the trials already asked are still prepared; none is asked again
            ctx.exhausted = (f"search space exhausted: the last {ctx.repeats} candidates drawn had all been "
                             f"scored already ({len(scored)} distinct candidates scored); widen the space "
                             "to search further")
            continue
        again = ctx.claims.claim_many(1, claim_target, held=[t.number for t in trials])  # sampled when prepared
        todo += again
        trials += again
    return slots


def _resampler(ctx: SearchContext, number: int) -> optuna.samplers.BaseSampler | None:
    """Who samples trial `number`: the search's own sampler (None) unless the trial before was a
    repeat; then a RandomSampler seeded by the search's seed and the trial's number (so one trial
    at a time and --parallel-candidates draw the same points), and after two repeats in a row
    _Untried, which walks to a point not tried yet."""
    seed = (ctx.settings.seed + number) % 2**32
    if ctx.repeats == 0:
        return None
    return optuna.samplers.RandomSampler(seed=seed) if ctx.repeats == 1 else _Untried(seed)


@contextmanager
def _sampling(ctx: SearchContext, sampler: optuna.samplers.BaseSampler | None) -> Iterator[None]:
    """The study samples with `sampler` (None: its own) inside: Optuna asks the study's sampler
    both when a trial is asked and when it suggests a parameter."""
    own = ctx.study.sampler
    if sampler is not None:
        ctx.study.sampler = sampler
    try:
        yield
    finally:
        ctx.study.sampler = own


class _Untried(optuna.samplers.BaseSampler):
    """A point not tried yet in this search (Optuna's BruteForceSampler, which walks the tree of
    the trials' parameters, failed repeats included; running trials are avoided, not excluded),
    seeded; a random one where the space changed shape since earlier trials (a growing
    instruction pool), which it cannot walk."""

    def __init__(self, seed: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self._brute = optuna.samplers.BruteForceSampler(seed=seed, avoid_premature_stop=True)
        self._random = optuna.samplers.RandomSampler(seed=seed)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        try:
            return self._brute.sample_independent(study, trial, param_name, param_distribution)
        except ValueError:  # "... is not compatible with the search space": another range than before
            return self._random.sample_independent(study, trial, param_name, param_distribution)


def trailing_repeats(study: optuna.Study) -> int:
    """How many of the search's last finished trials were repeats, in a row."""
    n = 0
    for t in reversed(study.get_trials(deepcopy=False)):
        if REPEAT_ATTR in t.user_attrs:
            n += 1
        elif t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            break
    return n


def _scored_hashes(study: optuna.Study, mine: set[int]) -> dict[str, int]:
    """The search's scored candidates: prompt hash -> first trial. Complete or pruned trials, and
    running ones not in `mine` (another worker's, being scored now; if it dies, its point is queued
    again). A retried point's trial carries its failed original's attributes: it is not a repeat."""
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)):
        if t.number in mine:
            continue
        h = t.user_attrs.get("prompt_hash")
        if isinstance(h, str):
            out.setdefault(h, t.number)
    return out


def _retried(trial: optuna.Trial) -> bool:
    """Whether the trial re-runs a failed trial's point (Optuna's retry callback records it)."""
    frozen = next((t for t in trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                   if t.number == trial.number), None)
    return frozen is not None and bool(frozen.system_attrs.get("retry_history"))  # as claims.py reads it


def _fail_repeat(ctx: SearchContext, trial: optuna.Trial, first: int) -> None:
    """The repeat is kept as a failed trial that says so: it holds no slot and spends nothing."""
    trial.set_user_attr(REPEAT_ATTR, first)
    log.info("trial %d repeats the candidate of trial %d: not scored again, the sampler is asked again",
             trial.number, first)
    ctx.claims.finish(trial, None, state=TrialState.FAIL)


def _prepare_one(ctx: SearchContext, trial: optuna.Trial) -> Prompt:
    """Sample a point, render it, and store the candidate before any scoring starts."""
    params = suggest(trial, ctx.space, ctx.task, ctx.instructions, ctx.dynamic_instructions,
                     ctx.instruction_origins)
    candidate = build_candidate(params, ctx.space, ctx.task, ctx.train, ctx.instructions, ctx.demos)
    prompt = render_candidate(candidate, ctx.task, ctx.lm)
    ctx.store.candidates.save(ctx.record.id, prompt_hash=prompt.hash, prompt=prompt.with_placeholders(),
                              answer_prefix=prompt.answer_prefix, instruction=candidate.instruction,
                              demos=[d.fields for d in candidate.demos], cot_trigger=candidate.cot_trigger,
                              template=candidate.template, params=params)
    _set_attrs(trial, {"prompt_hash": prompt.hash, "instruction": candidate.instruction,
                       "n_demos": params.get("n_demos", 0), "strategy": prompt.strategy.name,
                       "prompt": prompt.with_placeholders()[:2000],  # visible in optuna-dashboard
                       **ctx.trial_attrs})
    return prompt


# --- score -----------------------------------------------------------------------------------

def _score(ctx: SearchContext, slots: list[_Slot]) -> None:
    """Each slot's dev results, all prompts per call; with a pruner, chunk by chunk, reporting to
    Optuna after each chunk and dropping the trials it prunes; racing, rung by rung (_race)."""
    if ctx.race is not None:
        _race(ctx, ctx.race, slots)
        return
    dev, fidelity = ctx.dev, ctx.fidelity
    aggregate = ctx.evaluator.metric.aggregate
    chunk = fidelity.chunk or len(dev)
    active = list(slots)
    for begin in range(0, len(dev), chunk):
        part = dev[begin:begin + chunk]
        for slot, ev in zip(active, _evaluate(ctx, [s.prompt for s in active], part)):
            _add(slot, ev, aggregate)
            _report(slot.trial, fidelity, [r.score for r in slot.results], begin, aggregate)
        if begin + chunk >= len(dev) or fidelity.chunk is None:
            continue
        for slot in [s for s in active if s.trial.should_prune()]:
            slot.pruned = True
            _set_attrs(slot.trial, {"partial_score": slot.score, "partial_examples": len(slot.results)})
            active.remove(slot)
        if not active:
            break


def _race(ctx: SearchContext, race: Race, slots: list[_Slot]) -> None:
    """Rung by rung (racing.py): the slots still in the race are scored on the rung's new dev
    examples in one call; after each rung but the last, those that could no longer beat the
    leader stop, as pruned trials with the examples they got. With no leader, all of dev at once."""
    dev, aggregate = ctx.dev, ctx.evaluator.metric.aggregate
    lead = racing.leader(ctx.study, len(dev))
    rungs = race.rungs(len(dev)) if lead is not None else [len(dev)]
    if lead is not None:  # stopped or not, each trial keeps the leader it raced against
        for slot in slots:
            slot.trial.set_user_attr(racing.LEADER_ATTR, lead.number)
    active, begin = list(slots), 0
    for end in rungs:
        for slot, ev in zip(active, _evaluate(ctx, [s.prompt for s in active], dev[begin:end])):
            _add(slot, ev, aggregate)
            slot.trial.report(slot.score, end)  # a stopped trial's last value: what TPE ranks it by
        begin = end
        if lead is None or end == len(dev):
            break
        for slot in [s for s in active if not racing.could_lead([r.score for r in s.results], lead.scores[:end],
                                                                aggregate)]:
            slot.pruned = True
            _set_attrs(slot.trial, {"partial_score": slot.score, "partial_examples": end})
            active.remove(slot)
        if not active:
            break


def _add(slot: _Slot, ev: Evaluation, aggregate: Callable[[list[float]], float]) -> None:
    """One more part of dev scored for the slot: its results, cost and running score."""
    slot.computed, slot.seconds = slot.computed + ev.computed, slot.seconds + ev.seconds
    slot.results += ev.results
    slot.score = aggregate([r.score for r in slot.results])


def _evaluate(ctx: SearchContext, prompts: list[Prompt], examples: list) -> list[Evaluation]:
    if len(prompts) == 1:
        return [ctx.evaluator.evaluate(prompts[0], examples)]
    return ctx.evaluator.evaluate_many(prompts, examples)


def _report(trial: optuna.Trial, fidelity: Fidelity, scores: list[float], begin: int,
            aggregate: Callable[[list[float]], float]) -> None:
    if fidelity.chunk is None:  # nothing to prune
        return
    if fidelity.per_example:  # one value per example (a paired test's input); the step is its dev position
        for step in range(begin, len(scores)):
            trial.report(scores[step], step)
    else:  # the metric's running aggregate; the step is the examples scored
        trial.report(aggregate(scores), len(scores))


# --- tell ------------------------------------------------------------------------------------

def _shares(ctx: SearchContext, slots: list[_Slot]) -> list[dict[str, float]]:
    """Each trial's share of what the round used (calls, tokens, cost, wall time)."""
    weights = [s.computed for s in slots]
    return ctx.meter.shares(weights) if ctx.meter is not None else [{} for _ in weights]


def _tell(ctx: SearchContext, slot: _Slot, spent: dict[str, float]) -> str:
    """The trial's usage and dev results, then its result (committed)."""
    _set_attrs(slot.trial, spent)
    if slot.pruned:
        ctx.claims.finish(slot.trial, state=TrialState.PRUNED)
        return "pruned"
    store_dev_results(slot.trial, slot.results)
    ctx.claims.finish(slot.trial, objectives.trial_values(ctx.settings.objectives, slot.prompt, slot.score, ctx.lm))
    return "complete"


def _set_attrs(trial: optuna.Trial, attrs: dict) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _best_value(study: optuna.Study) -> float | None:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max((trial_score(t) for t in done), default=None)


def _abandon(ctx: SearchContext, trials: Sequence[optuna.Trial]) -> None:
    for trial in trials:
        ctx.claims.abandon(trial)
