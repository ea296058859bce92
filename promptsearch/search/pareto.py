"""Accuracy against prompt length: every candidate as (dev score, prompt tokens), the Pareto front
of that trade-off, and `pick` rules that choose a candidate from it (`export --pick`).

A multi-objective search (`--objectives score,prompt_tokens`, search/objectives.py) stored both
numbers in each trial's values, and its front is Optuna's `study.best_trials`. A single-objective
search has no token counts stored: they are counted from the stored candidates' prompts with the
model's tokenizer (`count`, the same measure: the prompt without its inputs), and the front is
computed here. Either way a point is a distinct candidate (its first completed trial).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from promptsearch.errors import ConfigError, excerpt
from promptsearch.search.objectives import is_multi, parse_objectives, prefix_text
from promptsearch.search.results import Entry, best, completed_trials, leaderboard
from promptsearch.storage.models import CandidateRow
from promptsearch.storage.store import SearchRecord, Store, trial_score

Count = Callable[[str], int]  # text -> tokens (an LM's count_tokens)
PICKS = {"best": 0, "shortest-within": 1}  # rule -> how many numbers follow it
MAX_TOLERANCE = 1.0  # scores are in [0, 1]


@dataclass(frozen=True)
class Point:
    entry: Entry  # trial, dev score, stored candidate
    tokens: int  # the prompt's tokens without its inputs

    @property
    def score(self) -> float:
        return self.entry.score


def multi_objective(record: SearchRecord) -> bool:
    return is_multi(record.settings.get("objectives", "score"))


def points(store: Store, record: SearchRecord, count: Count | None = None) -> list[Point]:
    """Every distinct candidate, best score first. Without stored token counts (a single-objective
    search) `count` is needed."""
    entries = leaderboard(store, record, k=None)
    if multi_objective(record):
        column = list(parse_objectives(record.settings["objectives"])).index("prompt_tokens")
        tokens = {t.number: int(t.values[column]) for t in completed_trials(store, record)}
        return [Point(e, tokens[e.trial]) for e in entries]
    if count is None:
        raise ValueError("a single-objective search stores no token counts: pass the model's count_tokens")
    return [Point(e, count_prompt(e.candidate, count, record)) for e in entries]


def count_prompt(row: CandidateRow, count: Count, record: SearchRecord) -> int:
    return count(prefix_text(row.prompt, record.task["inputs"]))


def front(store: Store, record: SearchRecord, count: Count | None = None) -> list[Point]:
    """The Pareto front, shortest prompt first: no other candidate is at least as good on both
    score and tokens and better on one. Optuna's `best_trials` for a multi-objective study."""
    if multi_objective(record):
        best = {t.number for t in store.load_study(record).best_trials}
        chosen = [p for p in points(store, record) if p.entry.trial in best]
    else:
        every = points(store, record, count)
        chosen = [p for p in every if not any(_dominates(q, p) for q in every)]
    return sorted(chosen, key=lambda p: (p.tokens, -p.score, p.entry.trial))


def _dominates(a: Point, b: Point) -> bool:
    return a.score >= b.score and a.tokens <= b.tokens and (a.score > b.score or a.tokens < b.tokens)


def parse_pick(pick: str | list | tuple | None, flag: str = "--pick") -> tuple[str, float | None]:
    """'best', or 'shortest-within TOL' (a string, or the rule and its number)."""
    if pick is None:
        return "best", None
    words = pick.split() if isinstance(pick, str) else [str(w) for w in pick]
    rule = words[0] if words else ""
    if rule not in PICKS or len(words) != 1 + PICKS[rule]:
        raise ConfigError(f"{flag}: '{excerpt(' '.join(words))}' is not a pick; allowed: best, "
                          f"shortest-within TOL (e.g. shortest-within 0.01)")
    if not PICKS[rule]:
        return rule, None
    try:
        tolerance = float(words[1])
    except ValueError:
        raise ConfigError(f"{flag}: the tolerance must be a number from 0 to {MAX_TOLERANCE}, "
                          f"got '{excerpt(words[1])}'") from None
    if not 0.0 <= tolerance <= MAX_TOLERANCE:  # also refuses nan
        raise ConfigError(f"{flag}: the tolerance must be a number from 0 to {MAX_TOLERANCE}, got {excerpt(words[1])}")
    return rule, tolerance


def shortest_within(candidates: list[Point], tolerance: float) -> Point:
    """The fewest tokens among candidates within `tolerance` of the best score; ties: higher
    score, then the earlier trial."""
    top = max(p.score for p in candidates)
    near = [p for p in candidates if p.score >= top - tolerance - 1e-12]
    return min(near, key=lambda p: (p.tokens, -p.score, p.entry.trial))


def pick_entry(store: Store, record: SearchRecord, rule: str, tolerance: float | None,
               count: Count | None = None) -> Entry:
    """The candidate a pick rule chooses (`best`: the highest score, as always)."""
    every = points(store, record, count) if rule != "best" else []
    if not every:  # `best`, or no completed trial yet (best() says so)
        return best(store, record)
    return shortest_within(every, tolerance or 0.0).entry


def uses_counts(record: SearchRecord, rule: str) -> bool:
    """Whether the rule needs the model's tokenizer (no token counts stored)."""
    return rule != "best" and not multi_objective(record)


def trial_points(store: Store, record: SearchRecord) -> list[tuple[int, float, int]]:
    """(trial, score, tokens) of every completed trial of a multi-objective search (the report's scatter)."""
    if not multi_objective(record):
        return []
    column = list(parse_objectives(record.settings["objectives"])).index("prompt_tokens")
    return [(t.number, trial_score(t), int(t.values[column])) for t in completed_trials(store, record)]
