"""Proposal rounds inside a running search (a trial hook of the search loop).

Round 0 (before the first trial) runs the `initial` methods (induction: instructions from
examples); round r >= 1 runs once r * `every` trials have finished, with the other methods
(refinement from the scored history, paraphrases of the best, reflection on the best prompt's
dev failures; see methods.py). With a `screen` in the space, each method's proposals are scored
cheaply first (screen.py) and only the best `keep` go on. New instructions join the pool (one
Optuna category per round: pool.py) and enter as enqueued trials, paired with the best trial's
values for the other dimensions.
"""
from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState

from promptsearch.config.propose import ProposeSpec
from promptsearch.propose.clean import clean, rejection
from promptsearch.propose.failures import best_failures, best_trial
from promptsearch.propose.methods import PROPOSAL_METHODS, Asks, MethodInput, round_methods
from promptsearch.propose.pool import SEED, enqueue_point, is_pool_param, pool_index, round_origin
from promptsearch.propose.proposer import Completion, Proposer
from promptsearch.propose.screen import screen_examples, screen_out, screen_scores
from promptsearch.storage.store import trial_score

log = logging.getLogger(__name__)
_SEED_OFFSETS = {"induction": 9, "refinement": 10, "resampling": 10}  # len(name), as stored searches drew


class Context(Protocol):  # what the hook reads of the search loop's SearchContext
    store: Any  # a storage.Store: proposals are read and written through store.proposals
    record: Any
    lm: Any
    task: Any
    space: Any
    train: list
    dev: list
    evaluator: Any
    study: optuna.Study
    instructions: list[str]
    dynamic_instructions: bool
    instruction_origins: list[str] | None


@dataclass(frozen=True, kw_only=True)
class Proposal:
    text: str
    raw: str
    sent: str
    parents: list[dict]
    reason: str | None  # None when accepted
    screen_score: float | None = None


def instruction_scores(study: optuna.Study) -> dict[int, float]:
    """Best complete-trial score of each pool index."""
    best: dict[int, float] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        i = pool_index(t.params)
        best[i] = max(best.get(i, float("-inf")), trial_score(t))
    return best


class ProposalHook:
    def __init__(self, spec: ProposeSpec, proposer: Proposer):
        self.spec, self.proposer = spec, proposer

    def __call__(self, ctx: Context) -> None:
        self._sync_pool(ctx)  # every time: another worker may have added a round
        finished = len(ctx.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        done = ctx.store.proposals.done_parts(ctx.record.id)
        for rnd in range(min(self.spec.rounds, finished // self.spec.every + 1)):
            for method in round_methods(self.spec, rnd):
                if (rnd, method) not in done:
                    self._run_part(ctx, rnd, method, finished)
        self._enqueue(ctx)

    def _sync_pool(self, ctx: Context) -> None:
        """Seeds, then accepted proposals in pool order: the pool a resumed search had."""
        rows = ctx.store.proposals.pool(ctx.record.id)
        ctx.instructions[:] = list(ctx.space.instructions) + [r.text for r in rows]
        ctx.dynamic_instructions = True  # the pool grows: sampled by group (pool.py)
        ctx.instruction_origins = [SEED] * len(ctx.space.instructions) + [round_origin(r.round) for r in rows]
        if self.spec.pool_layout == "integer":  # a search stored before pool.py: one integer, as it ran
            ctx.instruction_origins = None

    def _run_part(self, ctx: Context, rnd: int, method: str, finished: int) -> None:
        offset = _SEED_OFFSETS.get(method, zlib.crc32(method.encode()) % 1000 + 11)
        seed = ctx.space.seed * 1_000_003 + rnd * 101 + offset
        try:
            asks = self._asks(ctx, method, random.Random(seed))
            completions = self.proposer.complete(asks.prompts, asks.n, temperature=self.spec.temperature,
                                                 max_tokens=self.spec.max_tokens, seed=seed)
            proposals = self._screen(ctx, self._check(ctx, completions, asks.parents))
            outcome = _outcome(proposals)
        except Exception as e:  # a proposer that fails must not end the search
            log.warning("proposal round %d (%s) skipped: %s", rnd, method, e)
            proposals, outcome = [], f"skipped: {type(e).__name__}: {e}"[:300]
        self._store(ctx, rnd, method, finished, proposals, outcome)
        log.info("proposal round %d (%s): %s", rnd, method, outcome)

    def _asks(self, ctx: Context, method: str, rng: random.Random) -> Asks:
        scores = instruction_scores(ctx.study)
        scored = sorted(((ctx.instructions[i], v, i) for i, v in scores.items() if i < len(ctx.instructions)),
                        key=lambda x: -x[1])[: self.spec.top]
        inp = MethodInput(task=ctx.task, spec=self.spec, train=ctx.train, rng=rng,
                          scored=[{"index": i, "text": t, "score": v} for t, v, i in scored],
                          failures=lambda k: best_failures(ctx, k, rng))
        return PROPOSAL_METHODS.get(method, "propose.methods").asks(inp)

    def _check(self, ctx: Context, completions: Sequence[Completion],
               parents: Sequence[list[dict]]) -> list[Proposal]:
        """Clean each answer; reject what cannot be a new instruction (reason) and keep the rest."""
        seen = list(ctx.instructions)
        # Dev examples too: reflection shows the proposer dev failures, and an instruction carrying a
        # dev input (or its answer) verbatim would raise its own dev score without being a better prompt.
        examples = [ex[f] for ex in (*ctx.train, *ctx.dev) for f in (*ctx.task.inputs, ctx.task.output)]
        out = []
        for completion, par in zip(completions, parents):
            for raw in completion.texts:
                text = clean(raw)
                reason = rejection(text, seen=seen, examples=examples, max_words=self.spec.max_words)
                if reason is None:
                    seen.append(text)
                else:
                    log.info("proposal rejected (%s): %r", reason, raw[:200])
                out.append(Proposal(text=text, raw=raw, sent=completion.sent, parents=par, reason=reason))
        return out

    def _screen(self, ctx: Context, proposals: list[Proposal]) -> list[Proposal]:
        """With a screen: every accepted proposal's screen score; beyond the best `keep`, a reason.
        A model without log-likelihoods (a remote API) cannot screen: all are kept, with a warning."""
        screen = self.spec.screen
        valid = [i for i, p in enumerate(proposals) if p.reason is None]
        if screen is None or not valid:
            return proposals
        best = best_trial(ctx.study)
        template = (best.params.get("template") if best is not None else None) or ctx.space.templates[0]
        examples = screen_examples(ctx.train, screen, ctx.space.seed)
        try:
            scores = screen_scores(ctx.lm, ctx.task, template, [proposals[i].text for i in valid], examples)
        except Exception as e:
            log.warning("screening skipped (%s): every accepted proposal is tried", e)
            return proposals
        out = list(proposals)
        for i, score, reason in zip(valid, scores, screen_out(scores, screen.keep)):
            out[i] = replace(proposals[i], screen_score=score, reason=reason)
        return out

    def _store(self, ctx: Context, rnd: int, method: str, finished: int,
               proposals: list[Proposal], outcome: str) -> None:
        """The part's proposals and its round row in one transaction; then extend the pool."""
        index, rows = len(ctx.instructions), []
        for p in proposals:
            rows.append({"text": p.text, "accepted": p.reason is None, "reason": p.reason,
                         "pool_index": index if p.reason is None else None, "parents": p.parents,
                         "prompt": p.sent, "raw": p.raw, "proposer": self.proposer.name,
                         "screen_score": p.screen_score})
            index += p.reason is None
        ctx.store.proposals.add_part(ctx.record.id, rnd, method, finished, outcome, rows)
        accepted = [p.text for p in proposals if p.reason is None]
        ctx.instructions.extend(accepted)
        if ctx.instruction_origins is not None:
            ctx.instruction_origins.extend([round_origin(rnd)] * len(accepted))

    def _enqueue(self, ctx: Context) -> None:
        """Queue a trial for each accepted proposal not yet queued (idempotent after a crash:
        a proposal queued but not yet marked is queued again, and Optuna skips the repeat)."""
        pending = ctx.store.proposals.not_enqueued(ctx.record.id)
        if not pending:
            return
        others = _best_other_params(ctx.study)
        for row in pending:
            if ctx.instruction_origins is None:  # the integer layout
                params, attrs = {"instruction": row.pool_index}, None
            else:
                params, attrs = enqueue_point(ctx.instruction_origins, row.pool_index)
            ctx.study.enqueue_trial({**others, **params}, user_attrs=attrs, skip_if_exists=True)
        ctx.store.proposals.mark_enqueued([row.id for row in pending])


def _outcome(proposals: Sequence[Proposal]) -> str:
    screened = sum(bool(p.reason and p.reason.startswith("screened out")) for p in proposals)
    rejected = sum(p.reason is not None for p in proposals) - screened
    text = f"{sum(p.reason is None for p in proposals)} accepted, {rejected} rejected"
    return text + (f", {screened} screened out" if screened else "")


def _best_other_params(study: optuna.Study) -> dict[str, Any]:
    top = best_trial(study)
    return {k: v for k, v in top.params.items() if not is_pool_param(k)} if top is not None else {}
