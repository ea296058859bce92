"""Proposal rounds inside a running search (a trial hook of the search loop).

Round 0 (before the first trial) induces instructions from examples; round r >= 1 runs once r *
`every` trials have finished and refines from the scored history and paraphrases the best. New
instructions join the pool (Optuna samples an index into it) and enter as enqueued trials, paired
with the best trial's values for the other dimensions.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import optuna
from optuna.trial import TrialState

from promptsearch.config.propose import ProposeSpec
from promptsearch.propose import prompts
from promptsearch.propose.clean import clean, rejection
from promptsearch.propose.proposer import Completion, Proposer

log = logging.getLogger(__name__)


class Context(Protocol):  # what the hook reads of the search loop's SearchContext
    store: Any  # a storage.Store: proposals are read and written through store.proposals
    record: Any
    task: Any
    space: Any
    train: list
    study: optuna.Study
    instructions: list[str]
    dynamic_instructions: bool


@dataclass(frozen=True)
class Proposal:
    text: str
    raw: str
    sent: str
    parents: list[dict]
    reason: str | None  # None when accepted


def instruction_scores(study: optuna.Study) -> dict[int, float]:
    """Best complete-trial score of each pool index."""
    best: dict[int, float] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        i = t.params.get("instruction", 0)
        if t.value is not None:
            best[i] = max(best.get(i, float("-inf")), t.value)
    return best


class ProposalHook:
    def __init__(self, spec: ProposeSpec, proposer: Proposer):
        self.spec, self.proposer = spec, proposer
        self._synced = False

    def __call__(self, ctx: Context) -> None:
        if not self._synced:
            self._sync_pool(ctx)
            ctx.dynamic_instructions = True  # the pool grows: Optuna samples an index into it
            self._synced = True
        finished = len(ctx.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        done = ctx.store.proposals.done_parts(ctx.record.id)
        for rnd in range(min(self.spec.rounds, finished // self.spec.every + 1)):
            for method in self._methods(rnd):
                if (rnd, method) not in done:
                    self._run_part(ctx, rnd, method, finished)
        self._enqueue(ctx)

    def _methods(self, rnd: int) -> list[str]:
        ms = self.spec.methods
        if rnd == 0:
            return ["induction"] if "induction" in ms else []
        later = [m for m in ms if m != "induction"]
        return later or ["induction"]

    def _sync_pool(self, ctx: Context) -> None:
        """Seeds, then accepted proposals in pool order: the pool a resumed search had."""
        rows = ctx.store.proposals.pool(ctx.record.id)
        ctx.instructions[:] = list(ctx.space.instructions) + [r.text for r in rows]

    def _run_part(self, ctx: Context, rnd: int, method: str, finished: int) -> None:
        seed = ctx.space.seed * 1_000_003 + rnd * 101 + len(method)
        try:
            completions, parents = self._ask(ctx, rnd, method, seed)
            proposals = self._screen(ctx, completions, parents)
            outcome = f"{sum(p.reason is None for p in proposals)} accepted, " \
                      f"{sum(p.reason is not None for p in proposals)} rejected"
        except Exception as e:  # a proposer that fails must not end the search
            log.warning("proposal round %d (%s) skipped: %s", rnd, method, e)
            proposals, outcome = [], f"skipped: {type(e).__name__}: {e}"[:300]
        self._store(ctx, rnd, method, finished, proposals, outcome)
        log.info("proposal round %d (%s): %s", rnd, method, outcome)

    def _ask(self, ctx: Context, rnd: int, method: str, seed: int) -> tuple[list[Completion], list[list[dict]]]:
        spec, rng = self.spec, random.Random(seed)
        scores = instruction_scores(ctx.study)
        scored = sorted(((ctx.instructions[i], v, i) for i, v in scores.items() if i < len(ctx.instructions)),
                        key=lambda x: -x[1])[: spec.top]
        parents_all = [{"index": i, "text": t, "score": v} for t, v, i in scored]
        k = min(spec.examples, len(ctx.train))
        if method == "induction":
            texts = [prompts.induction(ctx.task, rng.sample(ctx.train, k)) for _ in range(spec.draws)]
            return self._complete(texts, spec.n, seed), [[] for _ in texts]
        if not scored:
            raise RuntimeError("no scored instruction yet to refine")
        if method == "refinement":
            text = prompts.refinement(ctx.task, [(t, v) for t, v, _ in scored], rng.sample(ctx.train, k))
            return self._complete([text], spec.n, seed), [parents_all]
        texts = [prompts.resampling(t) for t, _, _ in scored[: spec.n]]
        return self._complete(texts, 1, seed), [[p] for p in parents_all[: spec.n]]

    def _complete(self, texts: list[str], n: int, seed: int) -> list[Completion]:
        return self.proposer.complete(texts, n, temperature=self.spec.temperature,
                                      max_tokens=self.spec.max_tokens, seed=seed)

    def _screen(self, ctx: Context, completions: Sequence[Completion],
                parents: Sequence[list[dict]]) -> list[Proposal]:
        seen = list(ctx.instructions)
        examples = [ex[f] for ex in ctx.train for f in (*ctx.task.inputs, ctx.task.output)]
        out = []
        for completion, par in zip(completions, parents):
            for raw in completion.texts:
                text = clean(raw)
                reason = rejection(text, seen=seen, examples=examples, max_words=self.spec.max_words)
                if reason is None:
                    seen.append(text)
                else:
                    log.info("proposal rejected (%s): %r", reason, raw[:200])
                out.append(Proposal(text, raw, completion.sent, par, reason))
        return out

    def _store(self, ctx: Context, rnd: int, method: str, finished: int,
               proposals: list[Proposal], outcome: str) -> None:
        """The part's proposals and its round row in one transaction; then extend the pool."""
        index, rows = len(ctx.instructions), []
        for p in proposals:
            rows.append({"text": p.text, "accepted": p.reason is None, "reason": p.reason,
                         "pool_index": index if p.reason is None else None, "parents": p.parents,
                         "prompt": p.sent, "raw": p.raw, "proposer": self.proposer.name})
            index += p.reason is None
        ctx.store.proposals.add_part(ctx.record.id, rnd, method, finished, outcome, rows)
        ctx.instructions.extend(p.text for p in proposals if p.reason is None)

    def _enqueue(self, ctx: Context) -> None:
        """Queue a trial for each accepted proposal not yet queued (idempotent after a crash:
        a proposal queued but not yet marked is queued again, and Optuna skips the repeat)."""
        pending = ctx.store.proposals.not_enqueued(ctx.record.id)
        if not pending:
            return
        others = _best_other_params(ctx.study)
        for row in pending:
            ctx.study.enqueue_trial({**others, "instruction": row.pool_index}, skip_if_exists=True)
        ctx.store.proposals.mark_enqueued([row.id for row in pending])


def _best_other_params(study: optuna.Study) -> dict[str, Any]:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return {}
    top = max(done, key=lambda t: (t.value, -t.number))
    return {k: v for k, v in top.params.items() if k != "instruction"}
