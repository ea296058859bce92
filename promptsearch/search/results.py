"""Reading a search's results back: trial counts, leaderboard, best candidate."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from optuna.trial import FrozenTrial, TrialState

from promptsearch.errors import UserError
from promptsearch.propose.pool import pool_index
from promptsearch.search.budget import REPEAT_ATTR
from promptsearch.search.selection import stored_selection
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord, Store, trial_score


@dataclass(frozen=True)
class Entry:
    """A distinct candidate with its score (the first trial that scored it)."""

    trial: int
    score: float
    candidate: CandidateRow
    unparsed: int | None = None  # dev answers that named no label (label scoring first-token, generate)


def trial_counts(store: Store, record: SearchRecord) -> dict[str, int]:
    """Trials by state, and `repeat`: failed trials whose candidate was already scored
    (pipeline.py), which are not counted as `fail`."""
    study = store.load_study(record)
    counts = Counter("repeat" if REPEAT_ATTR in t.user_attrs else t.state.name.lower()
                     for t in study.get_trials(deepcopy=False))
    out = {state.name.lower(): counts.get(state.name.lower(), 0) for state in TrialState}
    out["repeat"] = counts.get("repeat", 0)
    return out


def completed_trials(store: Store, record: SearchRecord) -> list[FrozenTrial]:
    return store.load_study(record).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def finished_trials(store: Store, record: SearchRecord) -> list[FrozenTrial]:
    """Completed or pruned: what `--trials` counts."""
    return store.load_study(record).get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def pruned_trials(store: Store, record: SearchRecord) -> list[FrozenTrial]:
    return store.load_study(record).get_trials(deepcopy=False, states=(TrialState.PRUNED,))


def leaderboard(store: Store, record: SearchRecord, k: int | None = 5) -> list[Entry]:
    """Distinct candidates, best first; ties go to the earlier trial."""
    trials = sorted(completed_trials(store, record), key=lambda t: (-trial_score(t), t.number))
    seen: set[str] = set()
    entries = []
    for t in trials:
        h = t.user_attrs.get("prompt_hash")
        if h is None or h in seen:
            continue
        seen.add(h)
        candidate = store.candidates.get(record.id, h)
        if candidate is not None:
            entries.append(Entry(t.number, trial_score(t), candidate, t.user_attrs.get("unparsed")))
        if k is not None and len(entries) >= k:
            break
    return entries


def best(store: Store, record: SearchRecord) -> Entry:
    """The search's pick: with a selection split, the trial picked there (search/pick.py);
    otherwise the best dev score."""
    picked = selection_pick(store, record)
    if picked is not None:
        return picked
    top = leaderboard(store, record, k=1)
    if not top:
        raise UserError(f"search '{record.name}' has no completed trial yet; "
                        f"run `promptsearch resume {record.name} --trials N` first")
    return top[0]


def selection_pick(store: Store, record: SearchRecord) -> Entry | None:
    """The trial picked on the selection split, or None (no split, or not re-scored yet)."""
    selection = stored_selection(store.load_study(record).user_attrs)
    if selection is None:
        return None
    for t in completed_trials(store, record):
        if t.number == selection.get("pick"):
            candidate = store.candidates.get(record.id, t.user_attrs.get("prompt_hash", ""))
            if candidate is not None:
                return Entry(t.number, trial_score(t), candidate, t.user_attrs.get("unparsed"))
    return None


def first_trial(store: Store, record: SearchRecord) -> Entry | None:
    """The earliest completed trial: the baseline a search is compared with."""
    trials = sorted(completed_trials(store, record), key=lambda t: t.number)
    if not trials:
        return None
    t = trials[0]
    candidate = store.candidates.get(record.id, t.user_attrs.get("prompt_hash", ""))
    return Entry(t.number, trial_score(t), candidate) if candidate is not None else None


def trial_feedback(store: Store, record: SearchRecord, number: int) -> list[dict]:
    """What the metric said about the lowest-scoring dev examples of trial `number` (runner
    stores up to five: example, score, prediction, feedback); empty when it said nothing."""
    for t in store.load_study(record).get_trials(deepcopy=False):
        if t.number == number:
            return list(t.user_attrs.get("feedback") or [])
    return []


def proposal_lineage(store: Store, record: SearchRecord) -> list[dict]:
    """Every stored proposal with its parents, the trials that used it and its best score; its
    screen score (None without a screen) and, for reflection, the dev examples it was shown."""
    rows = store.proposals.all(record.id)
    if not rows:
        return []
    used: dict[int, list[FrozenTrial]] = {}
    for t in completed_trials(store, record):
        used.setdefault(pool_index(t.params), []).append(t)
    out = []
    for r in rows:
        trials = used.get(r.pool_index, []) if r.accepted and r.pool_index is not None else []
        out.append({"index": r.pool_index, "round": r.round, "method": r.method, "text": r.text,
                    "accepted": r.accepted, "reason": r.reason, "screen_score": r.screen_score,
                    "parents": [p.get("index") for p in r.parents], "trials": [t.number for t in trials],
                    "failures": [f for p in r.parents for f in p.get("failures", [])],
                    "best": max((trial_score(t) for t in trials), default=None)})
    return out
