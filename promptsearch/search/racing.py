"""Racing for the lead (`--race`, `race=True`): dev goes to the candidates that could still win.

The search keeps the candidate with the best dev score out of tens, so the comparison that matters
is the one between the top candidates. Racing scores every candidate on a first rung of dev
(`race_start` examples; default a quarter of dev, at least MIN_START) and, rung by rung (twice as
many examples each time, the last one all of dev), only those that could still be the best go on:

    leader     the best complete trial so far; it was scored on all of dev, in the same seeded
               order (runner.dev_order), so its stored per-example scores (devscores.py) line up
               with the candidate's on every rung
    could lead the candidate's aggregate on the rung is at least the leader's on the same examples,
               or the leader's lead is not yet significant: a one-sided sign test on the paired
               examples where the two differ (the exact McNemar test for a 0/1 metric) gives
               p >= 1 - RACE_CONFIDENCE

A candidate that could not is stopped there: its trial is PRUNED with the partial score and the
examples it got (`partial_score`, `partial_examples`, `race_leader`), reported to Optuna at step =
examples scored, so TPE ranks it below every complete trial. The first trial (no leader yet) and
every candidate still in the race at the last rung are scored on all of dev: every complete trial
has all of dev, and the pick among the top candidates is made there. Unlike a pruner, racing works
on a batch of candidates (`--parallel-candidates`): every rung is one engine call for the
candidates still running. What each trial spent is measured as usual, so budgets count it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from promptsearch.config.limits import check_int
from promptsearch.errors import ConfigError
from promptsearch.search.devscores import dev_scores
from promptsearch.storage.store import trial_score

RACE_CONFIDENCE = 0.9  # stop a candidate once the leader's lead on the same examples has p < 0.1
MIN_START = 8  # examples in the first rung, at the least: fewer say nothing a sign test can use
LEADER_ATTR = "race_leader"


@dataclass(frozen=True)
class Race:
    """The rungs of a race over `dev` examples."""

    start: int  # examples in the first rung

    @classmethod
    def over(cls, race_start: int | None, n_dev: int) -> Race:
        """`race_start` examples first; None: a quarter of `n_dev`, at least MIN_START."""
        return cls(start=race_start if race_start is not None else max(MIN_START, math.ceil(n_dev / 4)))

    def rungs(self, n_dev: int) -> list[int]:
        """Examples scored after each rung: start, 2 x start, ..., then all of dev."""
        out, n = [], self.start
        while n < n_dev:
            out.append(n)
            n *= 2
        return [*out, n_dev]


@dataclass(frozen=True)
class Leader:
    number: int
    scores: list[float]  # per dev example, in the order every trial is scored


def make_race(race: bool, race_start: int | None, n_dev: int) -> Race | None:
    """The race a search's settings ask for over `n_dev` examples; None when it does not race."""
    return Race.over(race_start, n_dev) if race else None


def check_race(race: Any, race_start: Any, pruner: str, objectives: str) -> None:
    """One-line errors for settings that cannot race, before anything is written."""
    if not isinstance(race, bool):
        raise ConfigError(f"--race: must be true or false, got {race!r}")
    if race_start is not None:
        check_int("--race-start", race_start, "race_start")
        if not race:
            raise ConfigError("--race-start: only means something with --race (add --race, or drop --race-start)")
    if not race:
        return
    if pruner != "none":
        raise ConfigError(f"--race: cannot run with --pruner {pruner}: both decide how much of dev a candidate "
                          "gets; use one (--pruner none with --race)")
    if objectives != "score":
        raise ConfigError(f"--race: races for the best score, so it needs --objectives score (got {objectives})")


def leader(study: optuna.Study, n_dev: int) -> Leader | None:
    """The best complete trial with its per-example scores on all `n_dev` dev examples; None when
    there is none (the first trial, or a dev set too large to store scores for)."""
    best: Leader | None = None
    top = -math.inf
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        scores = dev_scores(t)
        value = trial_score(t)
        if scores is not None and len(scores) == n_dev and value > top:
            best, top = Leader(t.number, scores), value
    return best


def could_lead(candidate: Sequence[float], lead: Sequence[float],
               aggregate: Callable[[list[float]], float], confidence: float = RACE_CONFIDENCE) -> bool:
    """Whether a candidate scored `candidate` on the first len(candidate) examples could still beat
    the leader, who scored `lead` on them: not behind, or behind by a lead a one-sided sign test
    does not call significant at 1 - confidence."""
    if aggregate(list(candidate)) >= aggregate(list(lead)):
        return True
    worse = sum(c < ld for c, ld in zip(candidate, lead))
    better = sum(c > ld for c, ld in zip(candidate, lead))
    return sign_p(worse, worse + better) >= 1 - confidence


def sign_p(worse: int, differing: int) -> float:
    """P(at least `worse` of `differing` coin flips come up 'worse'): the one-sided sign test."""
    if differing == 0:
        return 1.0
    return sum(math.comb(differing, k) for k in range(worse, differing + 1)) / 2**differing


def summary(study: optuna.Study) -> dict[str, Any]:
    """How the race went: trials scored on all of dev, trials stopped (by examples they got), and the
    dev examples scored against what scoring every candidate on all of dev would have cost."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    n_dev = max((int(t.user_attrs.get("dev_examples", 0)) for t in done), default=0)
    stopped = [t for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,)) if LEADER_ATTR in t.user_attrs]
    at: dict[int, int] = {}
    for t in stopped:
        n = int(t.user_attrs.get("partial_examples", 0))
        at[n] = at.get(n, 0) + 1
    scored = len(done) * n_dev + sum(n * k for n, k in at.items())
    return {"dev_examples": n_dev, "complete": len(done), "stopped": len(stopped),
            "stopped_at": dict(sorted(at.items())), "examples_scored": scored,
            "examples_without_racing": (len(done) + len(stopped)) * n_dev}
