"""What the reflection method is shown: dev examples the best prompt so far gets wrong.

Read from the evaluation cache (every dev result of a trial is stored there, with the metric's
feedback where it gives one), so reflecting costs no model call beyond the proposer's. A prompt
whose demonstrations are chosen per input (nearest neighbours) is cached per example under other
hashes; for it, the lowest-scoring examples the trial recorded (user attribute `feedback`) are used.
"""
from __future__ import annotations

import random
from typing import Any

import optuna
from optuna.trial import TrialState

from promptsearch.propose.pool import pool_index
from promptsearch.storage.store import trial_score
from promptsearch.strategies import strategy_from_params


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(done, key=lambda t: (trial_score(t), -t.number)) if done else None


def best_failures(ctx: Any, k: int, rng: random.Random) -> tuple[dict, list[dict]]:
    """(parent, failures): the best trial's instruction, pool index, score and trial number with
    the ids of the failures shown; up to `k` failures, lowest score first, ties drawn by `rng`.
    `ctx` is the search loop's context (store, record, study, lm, evaluator, task, dev)."""
    best = best_trial(ctx.study)
    if best is None:
        raise RuntimeError("no completed trial yet to reflect on")
    prompt_hash = best.user_attrs.get("prompt_hash", "")
    row = ctx.store.candidates.get(ctx.record.id, prompt_hash)
    if row is None:
        raise RuntimeError(f"trial {best.number}'s candidate is not stored")
    by_id = {ex.id: ex for ex in ctx.dev}
    key = ctx.evaluator.key(strategy_from_params(dict(row.params or {})))
    cached = ctx.store.evaluations.get(ctx.lm.fingerprint, prompt_hash, key, list(by_id))
    wrong = [(r.score, r.example_id, r.prediction, r.feedback) for r in cached.values() if r.score < 1.0]
    if not wrong:  # per-input demos: what the trial itself recorded
        wrong = [(f["score"], f["example"], f["prediction"], f.get("feedback"))
                 for f in best.user_attrs.get("feedback") or [] if f.get("example") in by_id]
    if not wrong:
        raise RuntimeError(f"trial {best.number} (the best) has no failed dev example to reflect on")
    wrong.sort(key=lambda w: w[1])  # a stable order before the seeded draw among equal scores
    rng.shuffle(wrong)
    wrong.sort(key=lambda w: w[0])
    failures = []
    for score, example_id, prediction, feedback in wrong[:k]:
        ex = by_id[example_id]
        failures.append({"example": example_id, "inputs": {f: _short(ex[f]) for f in ctx.task.inputs},
                         "expected": _short(ex[ctx.task.output]), "answer": _short(prediction.strip()) or "(empty)",
                         "feedback": _short(feedback) if feedback else None, "score": score})
    parent = {"index": pool_index(best.params), "text": row.instruction, "score": trial_score(best),
              "trial": best.number, "failures": [f["example"] for f in failures]}
    return parent, failures


def _short(text: str, limit: int = 400) -> str:
    """Long inputs would crowd a small proposer's context out."""
    return text if len(text) <= limit else text[:limit] + " …"
