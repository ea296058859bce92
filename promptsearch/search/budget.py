"""Budgets: stop a search before it spends more than the user allows (`optimize --budget`).

A budget caps any of four amounts, each summed over the search's trials from what the database
holds, so a resumed search (or another worker) knows what was already spent:

  calls    model calls (lm/usage.py: a scored label or a generated sequence is one call)
  tokens   prompt + generated tokens, counted per call as an API bills them
  seconds  wall time of the trials (each trial's `wall_seconds`: from the end of the previous
           trial of its run, so proposal rounds and bootstrapping count too)
  dollars  estimated cost (remote models with a known price)

Each trial's share is stored as its user attributes (`lm_calls`, ..., `wall_seconds`) by the
run's UsageMeter just before the trial is told. Before each trial the loop asks `stop_reason`:
the search stops cleanly when the budget is spent, or when the next trial would cross it, the
next trial's cost being estimated as the mean of the finished trials' costs. The budget lives in
the Optuna study's user attributes (key "budget"), so `resume --budget` can raise it and every
worker reads the same one. A separate --proposer model's calls and a judge model's are counted
with the searched model's (UsageMeter.watch).
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

import optuna
from optuna.trial import FrozenTrial, TrialState

from promptsearch.config.limits import check_float, check_int
from promptsearch.errors import ConfigError, excerpt
from promptsearch.lm.usage import UsageSum, record_usage, usage_snapshot

log = logging.getLogger(__name__)
STUDY_KEY = "budget"
KINDS = ("calls", "tokens", "seconds", "dollars")
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
    def from_dict(cls, data: dict[str, Any] | None) -> "Budget":
        return cls(**{k: v for k, v in (data or {}).items() if k in KINDS})

    def merged(self, other: "Budget") -> "Budget":
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


def parse_budget(value: "str | Sequence[str] | dict | Budget | None", flag: str = "--budget") -> Budget | None:
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

@dataclass(frozen=True)
class Spent:
    """What the search's trials used: totals, and how many trials each total is over."""

    calls: float = 0.0
    tokens: float = 0.0
    seconds: float = 0.0
    dollars: float = 0.0
    trials: int = 0  # trials whose usage is stored (the means divide by it)
    timed: int = 0  # trials with a known duration
    unpriced_calls: int = 0

    def amount(self, kind: str) -> float:
        return getattr(self, kind)

    def mean(self, kind: str) -> float:
        n = self.timed if kind == "seconds" else self.trials
        return self.amount(kind) / n if n else 0.0


def trial_seconds(t: FrozenTrial) -> float | None:
    """A trial's wall time: as the meter stored it, else Optuna's start and end times."""
    if "wall_seconds" in t.user_attrs:
        return float(t.user_attrs["wall_seconds"])
    if t.datetime_start and t.datetime_complete:
        return (t.datetime_complete - t.datetime_start).total_seconds()
    return None


def spent(trials: Sequence[FrozenTrial]) -> Spent:
    """Summed over finished trials (complete, pruned, failed: a failed trial's time was spent too)."""
    totals = {k: 0.0 for k in KINDS}
    n = timed = unpriced = 0
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
            continue
        a = t.user_attrs
        if "lm_calls" in a:
            n += 1
            totals["calls"] += a["lm_calls"]
            totals["tokens"] += a.get("lm_prompt_tokens", 0) + a.get("lm_completion_tokens", 0)
            totals["dollars"] += a.get("lm_cost_usd", 0.0)
            unpriced += a.get("lm_unpriced_calls", 0)
        seconds = trial_seconds(t)
        if seconds is not None:
            timed += 1
            totals["seconds"] += seconds
    return Spent(**totals, trials=n, timed=timed, unpriced_calls=unpriced)


def stop_reason(study: optuna.Study, name: str) -> str | None:
    """Why the search must not start another trial under its stored budget, or None."""
    budget = stored_budget(study)
    if not budget:
        return None
    used = spent(study.get_trials(deepcopy=False))
    for kind, limit in budget.to_dict().items():
        have, next_cost = used.amount(kind), used.mean(kind)
        if have >= limit:
            why = f"{_fmt(kind, have)} {_UNITS[kind]} spent of {_fmt(kind, limit)}"
        elif have + next_cost > limit:
            n = used.timed if kind == "seconds" else used.trials
            why = (f"{_fmt(kind, have)} {_UNITS[kind]} spent of {_fmt(kind, limit)}, and the next trial would "
                   f"need about {_fmt(kind, next_cost)} (the mean of {n} trials)")
        else:
            continue
        return (f"budget reached: {why}; raise it with `promptsearch resume {name} --trials N "
                f"--budget {kind}=...`")
    return None


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
        record_usage(trial, self.source, self.marked)
        trial.set_user_attr("wall_seconds", round(time.perf_counter() - self._time, 3))
        self.mark()


__all__ = ["Budget", "KINDS", "Spent", "UsageMeter", "check_budget", "check_counted", "parse_budget", "spent",
           "stop_reason", "store_budget", "stored_budget"]
