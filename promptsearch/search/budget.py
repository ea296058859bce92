"""Budgets: stop a search before it spends more than the user allows (`optimize --budget`).

A budget caps any of four amounts, each summed over the search's trials from what the database
holds, so a resumed search (or another worker) knows what was already spent:

  calls    model calls (lm/usage.py: a scored label or a generated sequence is one call)
  tokens   prompt + generated tokens, counted per call as an API bills them
  seconds  wall time of the trials (each trial's `wall_seconds`: from the end of the previous
           trial of its run, so proposal rounds and bootstrapping count too)
  dollars  estimated cost (remote models with a known price)

Each trial's share is stored as its user attributes (`lm_calls`, ..., `wall_seconds`) by the
run's UsageMeter just before the trial is told (a batch shares its usage and time among its
trials). Before each round the loop (loop.py) asks `allowed`: the search stops cleanly when the
budget is spent, or when the next trial would cross it. The next trial's cost is the mean of the
complete trials that really called a model (a cache hit costs nothing and says nothing about a new
candidate; a trial a pruner or the race stopped early cost less than the next may); before there is
a complete one, of every trial that called a model; before any, the dry-run plan's cost of a first
trial. So a trial that alone would cross the budget is not started. The budget lives in the
Optuna study's user attributes (key "budget"), so `resume --budget` can raise it and every worker
reads the same one. A separate --proposer model's calls and a judge model's are counted with the
searched model's (UsageMeter.watch).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from promptsearch.config.limits import check_float, check_int
from promptsearch.errors import ConfigError, excerpt
from promptsearch.lm.usage import UsageSum, usage_snapshot
from promptsearch.search.selection import stored_selection

log = logging.getLogger(__name__)
STUDY_KEY = "budget"
KINDS = ("calls", "tokens", "seconds", "dollars")
REPEAT_ATTR = "repeat_of"  # a trial whose candidate was already scored (pipeline.py): never scored itself
_UNITS = {"calls": "calls", "tokens": "tokens", "seconds": "s", "dollars": "USD"}


@dataclass(frozen=True)
class Budget:
    """Upper limits; None: no limit of that kind."""

    calls: int | None = None
    tokens: int | None = None
    seconds: float | None = None
    dollars: float | None = None

    def __bool__(self) -> bool:
        return any(getattr(self, k) is not None for k in KINDS)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Budget:
        return cls(**{k: v for k, v in (data or {}).items() if k in KINDS})

    def merged(self, other: Budget) -> Budget:
        """This budget with the limits `other` sets replaced (resume --budget)."""
        return replace(self, **other.to_dict())

    def describe(self) -> str:
        return ", ".join(f"{k}={_fmt(k, v)}" for k, v in self.to_dict().items()) or "none"


def _fmt(kind: str, value: float) -> str:
    if kind == "dollars":
        return f"{value:.4g}"
    if kind == "seconds":
        return f"{value:g}"
    return f"{int(value):,}"


def parse_budget(value: str | Sequence[str] | dict | Budget | None, flag: str = "--budget") -> Budget | None:
    """A Budget from `--budget` values ("calls=5000", "tokens=2e6,seconds=600", repeatable) or an
    API dict / string; None for no budget. One-line ConfigErrors naming the flag."""
    if value is None or isinstance(value, Budget):
        return value or None
    if isinstance(value, dict):
        items = [(str(k), v, f"{flag} {k}") for k, v in value.items()]
    else:
        texts = [value] if isinstance(value, str) else list(value)
        items = []
        for text in texts:
            if not isinstance(text, str):
                raise ConfigError(f"{flag}: expected KIND=NUMBER text, got {excerpt(text)}")
            for part in (p.strip() for p in text.split(",")):
                kind, eq, number = part.partition("=")
                if not eq or not kind.strip() or not number.strip():
                    raise ConfigError(f"{flag}: '{excerpt(part)}' is not KIND=NUMBER; e.g. calls=5000, "
                                      f"tokens=2e6, seconds=600, dollars=2.5")
                items.append((kind.strip(), _number(flag, kind.strip(), number.strip()), f"{flag} {kind.strip()}"))
    out: dict[str, Any] = {}
    for kind, number, where in items:
        if kind not in KINDS:
            raise ConfigError(f"{flag}: '{excerpt(kind, 30)}' is not a budget kind; allowed: {', '.join(KINDS)}")
        if kind in out:
            raise ConfigError(f"{flag}: {kind} is given twice; give each kind once")
        out[kind] = _checked(where, kind, number)
    if not out:
        raise ConfigError(f"{flag}: empty; give KIND=NUMBER, e.g. calls=5000")
    return Budget(**out)


def _number(flag: str, kind: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{flag} {excerpt(kind, 30)}: '{excerpt(text, 30)}' is not a number") from None


def _checked(where: str, kind: str, value: Any) -> float:
    if kind in ("calls", "tokens"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return check_int(where, value, f"budget_{kind}")
    return check_float(where, value, f"budget_{kind}")


def check_budget(budget: Budget | None, remote: bool, model: str) -> None:
    """A dollar budget needs a model with a price (a remote one)."""
    if budget is not None and budget.dollars is not None and not remote:
        raise ConfigError(f"--budget dollars: model '{excerpt(model)}' is local and has no price; "
                          f"use calls, tokens or seconds")


def check_counted(budget: Budget | None, lm: Any, model: str) -> None:
    """A budget in calls or tokens needs a model that counts them (`lm.usage`, lm/usage.py);
    a plug-in backend without counters would never stop."""
    if budget and (budget.calls is not None or budget.tokens is not None) and usage_snapshot(lm) is None:
        kind = "calls" if budget.calls is not None else "tokens"
        raise ConfigError(f"--budget {kind}: model '{excerpt(model)}' keeps no usage counters (lm.usage); "
                          f"use a seconds budget, or give its backend a `usage` dict (docs/extending.md)")


# ------------------------------------------------------------------------------ storage

def stored_budget(study: optuna.Study) -> Budget:
    return Budget.from_dict(study.user_attrs.get(STUDY_KEY))


def store_budget(study: optuna.Study, budget: Budget) -> None:
    study.set_user_attr(STUDY_KEY, budget.to_dict())


# ------------------------------------------------------------------------------ spending

@dataclass(frozen=True, kw_only=True)
class Spent:
    """What the search's trials used: totals, and how many trials each total is over."""

    calls: float = 0.0
    tokens: float = 0.0
    seconds: float = 0.0
    dollars: float = 0.0
    trials: int = 0  # trials whose usage is stored
    timed: int = 0  # trials with a known duration
    unpriced_calls: int = 0
    called: int = 0  # trials that really called a model (not all served from the cache): the means divide by it
    called_timed: int = 0  # of those, trials with a known duration
    called_sums: dict[str, float] = field(default_factory=dict)  # the totals over those trials
    full: int = 0  # of those, complete trials (scored on all of dev)
    full_timed: int = 0
    full_sums: dict[str, float] = field(default_factory=dict)

    def amount(self, kind: str) -> float:
        return float(getattr(self, kind))

    def _basis(self, kind: str) -> tuple[int, dict[str, float], str]:
        full = self.full_timed if kind == "seconds" else self.full
        if full:
            return full, self.full_sums, "complete trial"
        return self.called_timed if kind == "seconds" else self.called, self.called_sums, "trial"

    def mean(self, kind: str) -> float:
        """What the next trial may cost: the mean over the complete trials that called a model,
        since any new candidate may run all of dev (a trial a pruner or the race stopped early
        cost less, and would make the estimate too low); before there is one, over every trial
        that called a model. A trial served from the cache costs nothing and says nothing about
        what the next new candidate will cost."""
        n, sums, _ = self._basis(kind)
        return sums.get(kind, 0.0) / n if n else 0.0

    def describe(self, kind: str) -> str:
        """What `mean(kind)` is over, in words."""
        n, _, what = self._basis(kind)
        return f"the mean of {n} {what}{'s' if n != 1 else ''} that called the model"


def trial_seconds(t: FrozenTrial) -> float | None:
    """A trial's wall time: as the meter stored it, else Optuna's start and end times."""
    if "wall_seconds" in t.user_attrs:
        return float(t.user_attrs["wall_seconds"])
    if t.datetime_start and t.datetime_complete:
        return (t.datetime_complete - t.datetime_start).total_seconds()
    return None


def spent(trials: Sequence[FrozenTrial]) -> Spent:
    """Summed over finished trials (complete, pruned, failed: a failed trial's time was spent
    too), except repeats (pipeline.py), which were never scored and spent nothing."""
    totals = {k: 0.0 for k in KINDS}
    called_sums = {k: 0.0 for k in KINDS}
    full_sums = {k: 0.0 for k in KINDS}
    n = timed = unpriced = called = called_timed = full = full_timed = 0
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) or REPEAT_ATTR in t.user_attrs:
            continue
        a = t.user_attrs
        used = {k: 0.0 for k in KINDS}
        if "lm_calls" in a:
            n += 1
            used["calls"] = a["lm_calls"]
            used["tokens"] = a.get("lm_prompt_tokens", 0) + a.get("lm_completion_tokens", 0)
            used["dollars"] = a.get("lm_cost_usd", 0.0)
            unpriced += a.get("lm_unpriced_calls", 0)
        seconds = trial_seconds(t)
        if seconds is not None:
            timed += 1
            used["seconds"] = seconds
        for kind in KINDS:
            totals[kind] += used[kind]
        if a.get("lm_calls", 0) > 0:
            called += 1
            called_timed += seconds is not None
            for kind in KINDS:
                called_sums[kind] += used[kind]
            if t.state == TrialState.COMPLETE:
                full += 1
                full_timed += seconds is not None
                for kind in KINDS:
                    full_sums[kind] += used[kind]
    return Spent(**totals, trials=n, timed=timed, unpriced_calls=unpriced, called=called,
                 called_timed=called_timed, called_sums=called_sums,
                 full=full, full_timed=full_timed, full_sums=full_sums)


def with_selection(used: Spent, study: optuna.Study) -> Spent:
    """`used` plus what the final re-scoring on a selection split spent (search/pick.py; stored
    with the split, not on a trial); the per-trial means stay the trials' own."""
    usage = (stored_selection(study.user_attrs) or {}).get("usage") or {}
    if not usage:
        return used
    extra = {"calls": usage.get("lm_calls", 0), "dollars": usage.get("lm_cost_usd", 0.0),
             "tokens": usage.get("lm_prompt_tokens", 0) + usage.get("lm_completion_tokens", 0),
             "seconds": usage.get("wall_seconds", 0.0)}
    return replace(used, **{k: used.amount(k) + v for k, v in extra.items()})


def affordable(study: optuna.Study, want: int, share: float) -> int:
    """How many of `want` jobs the stored budget still allows, each costing `share` times a
    trial's mean (the final re-scoring on a selection split: held-out examples / dev examples)."""
    budget = stored_budget(study)
    if not budget:
        return want
    used = with_selection(spent(study.get_trials(deepcopy=False)), study)
    n = want
    for kind, limit in budget.to_dict().items():
        left, cost = limit - used.amount(kind), used.mean(kind) * share
        if left <= 0:
            return 0
        if cost > 0:
            n = min(n, int(left // cost))
    return n


def stop_reason(study: optuna.Study, name: str, estimate: dict[str, float] | None = None) -> str | None:
    """Why the search must not start another trial under its stored budget, or None."""
    return allowed(study, name, 1, estimate)[1]


def allowed(study: optuna.Study, name: str, want: int,
            estimate: dict[str, float] | None = None) -> tuple[int, str | None]:
    """How many of `want` trials the stored budget lets start now, and, when none, why not.

    A trial's cost is `Spent.mean` (complete trials that called a model first); before there is
    one, the `estimate` (the dry-run plan's cost per trial: {"calls": ..., "tokens": ...}). A trial that
    alone would cross the budget is not started."""
    budget = stored_budget(study)
    if not budget:
        return want, None
    used = with_selection(spent(study.get_trials(deepcopy=False)), study)
    fits = want
    for kind, limit in budget.to_dict().items():
        have = used.amount(kind)
        next_cost, basis = _next_cost(used, kind, estimate)
        if have < limit and next_cost <= 0:
            continue
        left = limit - have
        n = min(want, int(left // next_cost)) if have < limit else 0
        if n >= 1:
            fits = min(fits, n)
            continue
        why = f"{_fmt(kind, have)} {_UNITS[kind]} spent of {_fmt(kind, limit)}"
        if have < limit:
            why += (f", and the next trial would need about {_fmt(kind, next_cost)} {_UNITS[kind]} ({basis}), "
                    f"more than the {_fmt(kind, left)} left")
        return 0, (f"budget reached: {why}; raise it with `promptsearch resume {name} --trials N "
                   f"--budget {kind}=...`")
    return fits, None


def _next_cost(used: Spent, kind: str, estimate: dict[str, float] | None) -> tuple[float, str]:
    if used.called_timed if kind == "seconds" else used.called:
        return used.mean(kind), used.describe(kind)
    if estimate and estimate.get(kind):
        return estimate[kind], "the dry-run plan's estimate per trial"
    return 0.0, ""


class UsageMeter:
    """Stores, on each trial, what the run's models used and the wall time since the previous
    trial of this run was recorded (or since the run opened): model calls made between trials
    (proposal rounds, bootstrapping) are charged to the next trial, so none escape the budget.
    The models are the searched one and any other the search calls (`watch`: a proposer, a judge)."""

    def __init__(self, lm: Any):
        self.source = UsageSum(lm)
        self.marked: dict[str, float] | None = None  # the models' totals at the last mark
        self.mark()

    def watch(self, model: Any) -> None:
        """Count `model`'s calls too (from now on); the searched model itself is counted once."""
        before = usage_snapshot(model)
        if self.source.add(model) and before is not None:  # its calls before now are not this run's
            merged: dict[str, float] = dict(self.marked or {})
            for key, value in before.items():
                merged[key] = merged.get(key, 0) + value
            self.marked = merged

    def mark(self) -> None:
        self.marked, self._time = usage_snapshot(self.source), time.perf_counter()

    def record(self, trial: optuna.Trial) -> None:
        """Store everything since the mark on `trial` alone."""
        for key, value in self.shares([1])[0].items():
            trial.set_user_attr(key, value)

    def shares(self, weights: Sequence[int]) -> list[dict[str, float]]:
        """What the models used and the wall time since the mark, shared among a batch's trials
        in proportion to `weights` (the examples each computed; equally when none did), as each
        trial's user attributes (`lm_calls`, ..., `wall_seconds`); then marks. A batch of one
        gets it all, so every trial stores the same attributes however it ran."""
        usage = split_usage(self.source, self.marked, weights)
        seconds = split_usage({"seconds": time.perf_counter() - self._time}, {}, weights)
        self.mark()
        return [{**{f"lm_{k}": v for k, v in used.items()}, "wall_seconds": round(wall["seconds"], 3)}
                for used, wall in zip(usage, seconds)]


def split_usage(lm: Any, before: dict[str, float] | None, weights: Sequence[int]) -> list[dict[str, float]]:
    """The models' usage since `before` (lm/usage.py: calls, tokens, cost, seconds; or a dict of
    totals), shared among a batch's trials in proportion to `weights` (equally when all are 0);
    integer counts by largest remainder, so the trials' values add up to the batch's."""
    now = lm if isinstance(lm, dict) else usage_snapshot(lm)
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


__all__ = [
    "KINDS",
    "Budget",
    "Spent",
    "UsageMeter",
    "allowed",
    "check_budget",
    "check_counted",
    "parse_budget",
    "spent",
    "split_usage",
    "stop_reason",
    "store_budget",
    "stored_budget",
]
