"""The one search loop: until a target of finished trials, run rounds of trials (pipeline.py).

Who runs it sets the target policy:
  OwnTrials     `run_trials` / `optimize` / `resume`: this run finishes n more trials itself
  SearchTarget  `worker` (workers.py): the search's stored target, reached by every worker
                together; with no room left it waits for the others (and takes over a dead
                worker's trial)
Before each round the loop asks the stored budget how many trials may start (budget.allowed:
a trial that alone would cross it is not started; before any trial has called the model, a
trial costs what the dry-run plan estimates); it stops when the budget is spent, when the space
is exhausted (pipeline.py: the sampler offers only scored candidates), or after MAX_IN_A_ROW
rounds in a row failed on a remote model (failures.py).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import optuna

from promptsearch.errors import ModelCallError, UserError
from promptsearch.lm.base import LM
from promptsearch.search import pipeline
from promptsearch.search.budget import allowed, spent, stored_budget
from promptsearch.search.failures import FailureStreak
from promptsearch.search.pick import select
from promptsearch.search.runner import (
    RunSummary,
    SearchContext,
    TrialEvent,
    TrialHook,
    open_parts,
    open_run,
    space_hooks,
)
from promptsearch.storage.store import SearchRecord, Store, slot_counts

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class OwnTrials:
    """This run finishes `n` more trials (complete or pruned), whatever other processes do."""

    claim_target: int | None = None  # claims are not limited by the search's target

    def __init__(self, ctx: SearchContext, n: int):
        self.done, self.end = 0, slot_counts(ctx.study).finished + n
        self.start = self.end - n

    def target(self) -> int:
        return self.end

    def finished(self) -> int:
        return self.start + self.done

    def room(self) -> int:
        return self.end - self.finished()


class SearchTarget:
    """The search's stored target, shared by every worker: claims never pass it."""

    def __init__(self, ctx: SearchContext):
        self.ctx, self.claim_target = ctx, 0

    def target(self) -> int:
        self.claim_target = self.ctx.store.trial_target(self.ctx.record) or 0
        return self.claim_target

    def finished(self) -> int:
        return slot_counts(self.ctx.study).finished

    def room(self) -> int:
        counts = slot_counts(self.ctx.study)
        return self.claim_target - counts.finished - counts.running  # unless another worker is faster


@dataclass
class LoopEnd:
    finished: int  # finished trials when the loop ended, as the policy counts them
    target: int
    stopped: str | None  # why it stopped before the target


def run_loop(ctx: SearchContext, policy: OwnTrials | SearchTarget, on_event: Callable[[TrialEvent], None],
             hooks: Sequence[TrialHook] = (), poll_seconds: float = POLL_SECONDS) -> LoopEnd:
    """Rounds of trials until the policy's target is reached or something stops the run."""
    streak = FailureStreak()  # a remote call failed after its retries: its trials fail (failures.py)
    ctx.repeats = pipeline.trailing_repeats(ctx.study)  # a resumed exhausted search stops at once
    all_hooks = [*space_hooks(ctx), *hooks]
    estimate = _Estimate(ctx)
    while True:
        target, finished = policy.target(), policy.finished()
        if finished >= target:
            return LoopEnd(finished, target, None)
        fits, stopped = allowed(ctx.study, ctx.record.name, ctx.settings.parallel_candidates, estimate.get())
        stopped = stopped or ctx.exhausted
        if stopped:
            log.info("%s", stopped)
            return LoopEnd(finished, target, stopped)
        trials = []
        room = min(policy.room(), fits)
        if room > 0:
            for hook in all_hooks:
                hook(ctx)
            trials = pipeline.claim(ctx, room, policy.claim_target)
        if not trials:
            time.sleep(poll_seconds)  # the rest runs elsewhere: wait, and take over a dead worker's trial
            ctx.claims.fail_stale()
            continue
        try:
            for event in pipeline.run_round(ctx, trials, finished, target, policy.claim_target):
                if isinstance(policy, OwnTrials):
                    policy.done += 1
                on_event(event)
        except ModelCallError as e:
            streak.failed(trials[0].number, e)
            continue
        streak.succeeded()


class _Estimate:
    """A trial's cost before any trial has called the model: the dry-run plan's (with a calls or
    tokens budget only; computed once, when first needed)."""

    def __init__(self, ctx: SearchContext):
        self.ctx = ctx
        self.value: dict[str, float] | None = None

    def get(self) -> dict[str, float] | None:
        if self.value is None:
            budget = stored_budget(self.ctx.study)
            if (budget.calls is not None or budget.tokens is not None) and \
                    not spent(self.ctx.study.get_trials(deepcopy=False)).called:
                self.value = first_trial_estimate(self.ctx)
        return self.value


def first_trial_estimate(ctx: SearchContext) -> dict[str, float]:
    """What the first trial of this search spends by the dry-run plan: a trial with its judge's
    calls, and the first proposal round (run before it, charged to it). Not the rationale
    bootstrap: it runs only once a candidate needs it, and is then part of that trial's measured
    cost, which is what a budget may be crossed by at most."""
    from promptsearch.search.dryrun import plan_search  # builds a counting model: only with a budget

    task, space, settings = open_parts(ctx.record)
    plan = plan_search(ctx.record.name, task, space, settings, ctx.lm, 1, ctx.record.model)
    cost = plan.trial_cost + plan.proposals
    return {"calls": cost.calls, "tokens": cost.tokens}


def run_trials(store: Store, record: SearchRecord, lm: LM, n_trials: int,
               on_trial: Callable[[TrialEvent], None] | None = None,
               hooks: Sequence[TrialHook] = (), seed_offset: int = 0, *,
               sampler: optuna.samplers.BaseSampler | None = None,
               pruner: optuna.pruners.BasePruner | None = None) -> RunSummary:
    """Run until `n_trials` more trials have finished (completed, or pruned by the pruner).

    `seed_offset` shifts the sampler's seed (parallel workers pass their own). `sampler` and
    `pruner` (Optuna objects) replace, for this run, the ones the search's settings name; each
    trial then records their class (user attributes `sampler`, `pruner`)."""
    if n_trials < 1:
        raise UserError(f"--trials: must be at least 1, got {n_trials}")
    ctx = open_run(store, record, lm, seed_offset, sampler=sampler, pruner=pruner)
    summary, start = RunSummary(), time.perf_counter()

    def count(event: TrialEvent) -> None:
        summary.completed += event.state == "complete"
        summary.pruned += event.state == "pruned"
        summary.examples_computed += event.examples_computed
        summary.model_seconds += event.seconds if event.examples_computed else 0.0
        if on_trial is not None:
            on_trial(event)

    end = run_loop(ctx, OwnTrials(ctx, n_trials), count, hooks)
    select(ctx)  # with a selection split: the top candidates re-scored there, and the pick
    summary.stopped = end.stopped
    summary.failed_stale = list(ctx.claims.failed_stale)
    summary.wall_seconds = time.perf_counter() - start
    return summary
