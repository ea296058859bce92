"""Several candidates per batch (`--parallel-candidates k`): ask k trials, score them together,
tell them one by one.

One candidate's dev set (50-200 examples) is far below the batch a GPU wants. With k > 1 a round
of the search loop is

    claim    up to k trials asked under one hold of the search lock (Claims.claim_many), each
             with its owner row, as many as the target leaves room for
    prepare  each trial's point sampled, rendered and its candidate stored, in ask order: the
             sampler sees the same calls in the same order as with k = 1 (a RandomSampler or an
             enqueued grid gives the same points; TPE uses its constant liar, so it differs)
    score    every prompt x dev example in one Evaluator.evaluate_many: one LM call per strategy
             stage, k x len(dev) requests, whose evaluations are cached (committed) at once
    tell     in ask order, each trial's attributes and result committed before the next is told

So crash-safety is that of k = 1: a process killed mid-batch leaves its untold trials RUNNING
with an owner that is gone; the next claim (resume, or another worker) fails them as stale and
queues their points again, and their cached evaluations make the retries free. An error or
Ctrl-C fails every untold trial of the batch at once. Pruners decide chunk by chunk for one
candidate and are refused with k > 1 (sampling.check_parallel).

k = 1 runs exactly the single-trial path (runner.run_trial).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import optuna
from optuna.exceptions import UpdateFinishedTrialError

from promptsearch.evaluate.evaluator import Evaluation
from promptsearch.lm.usage import usage_snapshot
from promptsearch.render import Prompt
from promptsearch.search import objectives
from promptsearch.search.devscores import store_dev_results
from promptsearch.search.runner import SearchContext, TrialEvent, _best_value, _prepare_trial, run_trial
from promptsearch.storage.retry import environment_error


def claim(ctx: SearchContext, room: int, target: int | None = None) -> list[optuna.Trial]:
    """This round's trials: min(k, room) of them (fewer, or none, when `target` is nearly reached
    by other workers). `target` None: the caller runs its own number of trials (resume)."""
    k = min(ctx.settings.parallel_candidates, room)
    if k <= 1:
        trial = ctx.claims.claim(target)
        return [] if trial is None else [trial]
    return ctx.claims.claim_many(k, target)


def run_trials(ctx: SearchContext, trials: Sequence[optuna.Trial], finished: int,
               target: int) -> Iterator[TrialEvent]:
    """Run claimed trials; yields each TrialEvent right after that trial is told (committed).
    `finished`: trials finished before these. If the caller stops iterating early (its progress
    callback raised), the untold trials are failed when the generator is closed."""
    if len(trials) == 1:
        yield run_trial(ctx, trials[0], finished + 1, target)
        return
    told = 0
    try:
        # Since the meter's last mark: the calls of proposal rounds run between batches, and of a
        # separate proposer or judge model, are this batch's too.
        source, used = (ctx.meter.source, ctx.meter.marked) if ctx.meter else (ctx.lm, usage_snapshot(ctx.lm))
        prompts = [_prepare_trial(trial, ctx) for trial in trials]  # in ask order, like k = 1
        evals = ctx.evaluator.evaluate_many(prompts, ctx.dev)
        usage = split_usage(source, used, [ev.computed for ev in evals])
        for trial, prompt, ev, spent in zip(trials, prompts, evals, usage):
            _tell(ctx, trial, prompt, ev, spent)
            told += 1
            yield TrialEvent(trial.number, ev.score, _best_value(ctx.study), finished + told, target,
                             ev.computed, ev.seconds)
        if ctx.meter is not None:  # the batch's usage is split above: the next single trial starts afresh
            ctx.meter.mark()
    except UpdateFinishedTrialError:  # another worker failed it: this one was silent too long
        _abandon(ctx, trials[told + 1:])
        raise ctx.claims.taken_over(trials[told]) from None
    except BaseException as e:  # GeneratorExit included: the caller stopped iterating
        _abandon(ctx, trials[told:])
        known = environment_error(e, ctx.store.shown_url) if isinstance(e, Exception) else None
        if known is not None:  # a full disk, a database made read-only meanwhile
            raise known from None
        raise


def _tell(ctx: SearchContext, trial: optuna.Trial, prompt: Prompt, ev: Evaluation, spent: dict[str, float]) -> None:
    """What runner._score and record_usage store for one trial, then its result (committed)."""
    store_dev_results(trial, ev.results)
    for key, value in spent.items():
        trial.set_user_attr(f"lm_{key}", value)
    ctx.claims.finish(trial, objectives.trial_values(ctx.settings.objectives, prompt, ev.score, ctx.lm))


def _abandon(ctx: SearchContext, trials: Sequence[optuna.Trial]) -> None:
    for trial in trials:
        ctx.claims.abandon(trial)


def split_usage(lm: Any, before: dict[str, float] | None, weights: Sequence[int]) -> list[dict[str, float]]:
    """The models' usage since `before` (lm/usage.py: calls, tokens, cost, seconds), shared
    among the batch's trials in proportion to the examples each computed (equally when none did);
    integer counts by largest remainder, so the trials' values add up to the batch's."""
    now = usage_snapshot(lm)
    if before is None or now is None:
        return [{} for _ in weights]
    total = sum(weights)
    shares = [w / total for w in weights] if total else [1 / len(weights)] * len(weights)
    out: list[dict[str, float]] = [{} for _ in weights]
    for key, value in now.items():
        used = value - before.get(key, 0)
        parts: list[float]
        if isinstance(used, int):
            whole = [int(used * s) for s in shares]
            order = sorted(range(len(shares)), key=lambda i: used * shares[i] - whole[i], reverse=True)
            for i in order[:used - sum(whole)]:
                whole[i] += 1
            parts = list(whole)
        else:
            parts = [round(used * s, 6) for s in shares]
        for spent, part in zip(out, parts):
            spent[key] = part
    return out
