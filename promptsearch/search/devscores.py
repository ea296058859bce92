"""What a complete trial keeps of its dev results: every example's score (user attribute
`dev_scores`) and the lowest-scoring examples the metric explained (`feedback`).

Every trial of a search is scored on the same dev examples in the same order (runner.dev_order),
so two trials can later be compared pairwise -- per-example differences, an exact McNemar or
Wilcoxon test (verdict/dev.py) -- without a model call and without the evaluation cache, whose
keys depend on the model's fingerprint and, for nearest-neighbour demos, on every example's own
prompt. The encoding is compact because Optuna loads every user attribute of every trial with
the study: a 0/1 metric is one character per example ("0110..."), a graded one a list of floats
rounded to 6 digits. Dev sets above MAX_STORED examples are not kept (the comparison is then
unavailable, never wrong). Trials from before this change have no attribute.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna

from promptsearch.evaluate.evaluator import ExampleResult

DEV_SCORES_ATTR = "dev_scores"
UNPARSED_ATTR = "unparsed"  # dev answers that named no label (evaluate/labels.py)
MAX_STORED = 5_000  # examples: at most 5 kB per trial for a 0/1 metric, about 45 kB for a graded one


def pack_scores(scores: Sequence[float]) -> str | list[float] | None:
    """The stored form: '0'/'1' characters for a 0/1 metric, else rounded floats; None if too long."""
    if len(scores) > MAX_STORED:
        return None
    if all(s in (0.0, 1.0) for s in scores):
        return "".join("1" if s == 1.0 else "0" for s in scores)
    return [round(float(s), 6) for s in scores]


def unpack_scores(value: Any) -> list[float] | None:
    """The scores back from the stored form; None for anything else (an older or foreign attribute)."""
    if isinstance(value, str) and set(value) <= {"0", "1"}:
        return [1.0 if c == "1" else 0.0 for c in value]
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return [float(v) for v in value]
    return None


def store_dev_results(trial: optuna.Trial, results: Sequence[ExampleResult]) -> None:
    """Keep what a complete trial's dev results say (pipeline.py calls this): how many
    examples, every score in dev order, and why it lost points (for `show`, the report, proposers)."""
    trial.set_user_attr("dev_examples", len(results))
    packed = pack_scores([r.score for r in results])
    if packed is not None:
        trial.set_user_attr(DEV_SCORES_ATTR, packed)
    marked = [r.unparsed for r in results if r.unparsed is not None]
    if marked:  # label tasks read by first-token or generate (evaluate/labels.py)
        trial.set_user_attr(UNPARSED_ATTR, sum(marked))
    lost = lowest_with_feedback(results)
    if lost:
        trial.set_user_attr("feedback", lost)


def dev_scores(trial: optuna.trial.FrozenTrial) -> list[float] | None:
    """A finished trial's per-example dev scores, or None when they were not stored."""
    return unpack_scores(trial.user_attrs.get(DEV_SCORES_ATTR))


def lowest_with_feedback(results: Sequence[ExampleResult], k: int = 5) -> list[dict[str, Any]]:
    """The `k` lowest-scoring results whose metric said why, lowest first, kept short."""
    said = sorted((r for r in results if r.feedback and r.score < 1.0), key=lambda r: r.score)[:k]
    return [{"example": r.example_id, "score": round(r.score, 4), "prediction": r.prediction[:200],
             "feedback": (r.feedback or "")[:300]} for r in said]
