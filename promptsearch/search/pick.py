"""The final pick on the selection split (selection.py): run once at the end of every run.

The top `select_top` distinct candidates by dev score are re-scored on the held-out examples
through the run's evaluator (its cache: a candidate already re-scored costs nothing), and the
pick is the best on dev and the held-out examples pooled (the metric's aggregate over both sets
of per-example scores), ties broken by dev score, then by the earlier trial. Pooled, not the
held-out score alone: measured in issue 24 (docs/benchmarks.md), the held-out part alone -- 30%
of dev -- picked a worse prompt on test than dev or the pool did in 4 of 6 searches (never a
better one), its own noise replacing dev's bias; the pool adds unbiased examples to dev's. What the
re-scoring used is measured by the run's UsageMeter and stored with the split (study user
attribute "selection", key `usage`), where the budget counts it (budget.with_selection); with a
budget, only as many candidates are re-scored as it still allows at the trials' mean cost
(budget.affordable), so the re-scoring never takes a search past it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from optuna.trial import TrialState

from promptsearch.search.budget import affordable
from promptsearch.search.devscores import dev_scores
from promptsearch.search.rebuild import rebuild_prompt
from promptsearch.search.runner import SearchContext
from promptsearch.search.selection import SELECTION_ATTR, stored_selection
from promptsearch.storage.store import trial_score

log = logging.getLogger(__name__)


def select(ctx: SearchContext) -> dict[str, Any] | None:
    """Re-score the top candidates by dev on the selection split and store the pick; None
    without a split or before any trial completed."""
    if not ctx.selection:
        return None
    top = _top_by_dev(ctx, ctx.settings.select_top)
    fits = affordable(ctx.study, len(top), len(ctx.selection) / max(len(ctx.dev), 1))
    if fits < len(top):
        log.info("selection: the budget allows re-scoring %d of the top %d candidates", fits, len(top))
        top = top[:fits]
    if not top:  # nothing to re-score, or no budget left: an earlier pick stands
        return None
    if ctx.meter is not None:
        ctx.meter.mark()  # the trials' usage is theirs; from here on it is the selection's
    aggregate = ctx.evaluator.metric.aggregate
    scores = []
    for number, dev_score, prompt_hash, on_dev in top:
        row = ctx.store.candidates.get(ctx.record.id, prompt_hash)
        if row is None:
            continue
        prompt = rebuild_prompt(ctx.record, row, lm=ctx.lm, store=ctx.store)
        ev = ctx.evaluator.evaluate(prompt, ctx.selection)
        held = [r.score for r in ev.results]
        scores.append({"trial": number, "dev": dev_score, "selection": aggregate(held),
                       "pooled": _pooled(aggregate, dev_score, on_dev, held, len(ctx.dev)), "computed": ev.computed})
    if not scores:
        return None
    pick = max(scores, key=lambda s: (s["pooled"], s["dev"], -s["trial"]))
    before = stored_selection(ctx.study.user_attrs) or {}
    usage = dict(before.get("usage") or {})
    if ctx.meter is not None:
        for key, amount in ctx.meter.shares([1])[0].items():
            usage[key] = usage.get(key, 0) + amount
    value = {"fraction": ctx.settings.select_fraction, "examples": len(ctx.selection),
             "dev_examples": len(ctx.dev), "example_ids": [e.id for e in ctx.selection],
             "top": ctx.settings.select_top, "scores": scores, "pick": pick["trial"], "usage": usage}
    ctx.study.set_user_attr(SELECTION_ATTR, value)
    log.info("selection: trial %d picked (pooled %.4f, selection %.4f, dev %.4f) of %d re-scored on %d held-out "
             "examples", pick["trial"], pick["pooled"], pick["selection"], pick["dev"], len(scores), len(ctx.selection))
    return value


def _pooled(aggregate: Callable[[list[float]], float], dev: float, on_dev: list[float] | None,
            held: list[float], n_dev: int) -> float:
    """The metric over dev's and the held-out examples' scores together; from the two scores
    weighted by their sizes when dev's per-example scores were not stored (a very large dev)."""
    if on_dev is not None:
        return aggregate(on_dev + held)
    return (dev * n_dev + aggregate(held) * len(held)) / (n_dev + len(held))


def _top_by_dev(ctx: SearchContext, k: int) -> list[tuple[int, float, str, list[float] | None]]:
    """(trial, dev score, prompt hash, per-example dev scores) of the k best distinct candidates;
    ties to the earlier trial."""
    done = ctx.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    out: list[tuple[int, float, str, list[float] | None]] = []
    seen: set[str] = set()
    for t in sorted(done, key=lambda t: (-trial_score(t), t.number)):
        h = t.user_attrs.get("prompt_hash")
        if isinstance(h, str) and h not in seen:
            seen.add(h)
            out.append((t.number, trial_score(t), h, dev_scores(t)))
        if len(out) >= k:
            break
    return out
