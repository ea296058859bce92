"""Usage counters of a model: what a budget (`optimize --budget`) is spent in.

Every backend keeps the same totals on `lm.usage` (a dict), counted the way a hosted API bills:

  calls              answers asked for: a loglikelihood request, or one returned sequence of a
                     generate request (self-consistency's k samples are k calls)
  prompt_tokens      tokens of every call's context (+ the scored continuation, for loglikelihood),
                     as if sent alone: a local engine runs a shared prefix once, but a budget
                     should not depend on how well the engine batches
  completion_tokens  tokens generated
  cost_usd           estimated price (remote models with a known price; 0 for local ones)
  unpriced_calls     remote calls without a known price
  seconds            time inside the model's calls (remote: summed over threads)

The search loop stores each trial's share as user attributes `lm_<key>` (`record_usage`), so what a
search has spent can be summed from the database after a resume (search/budget.py).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

USAGE_KEYS = ("calls", "prompt_tokens", "completion_tokens", "cost_usd", "unpriced_calls", "seconds")
FLOAT_KEYS = ("cost_usd", "seconds")


class UsageCounter:
    """Thread-safe totals of USAGE_KEYS since this object was made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {k: 0.0 if k in FLOAT_KEYS else 0 for k in USAGE_KEYS}

    def add(self, **amounts: float) -> None:
        with self._lock:
            for key, value in amounts.items():
                self._totals[key] += value

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Adds the block's wall time to `seconds`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(seconds=time.perf_counter() - start)

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._totals)


class UsageSum:
    """The summed usage of the models a search calls: the searched model, and a separate proposer
    or judge model when there is one, so a budget counts every call the search causes. `usage` is
    None when no model keeps counters; a model added twice (the same object) counts once."""

    def __init__(self, *models) -> None:
        self.models: list = []
        for m in models:
            self.add(m)

    def add(self, model) -> bool:
        """Count `model` too; False when it is None or already counted."""
        if model is None or any(m is model for m in self.models):
            return False
        self.models.append(model)
        return True

    @property
    def usage(self) -> dict[str, float] | None:
        snaps = [s for s in (usage_snapshot(m) for m in self.models) if s is not None]
        if not snaps:
            return None
        total: dict[str, float] = {}
        for snap in snaps:
            for key, value in snap.items():
                total[key] = total.get(key, 0) + value
        return total


def usage_snapshot(lm) -> dict[str, float] | None:
    """The model's usage totals (`lm.usage`), or None for a model that keeps none (a plug-in backend)."""
    usage = getattr(lm, "usage", None)
    return dict(usage) if isinstance(usage, dict) else None


def usage_since(lm, before: dict[str, float] | None) -> dict[str, float]:
    """What `lm` used since the snapshot `before` ({} when it keeps no counters)."""
    now = usage_snapshot(lm)
    if before is None or now is None:
        return {}
    return {key: value - before.get(key, 0) for key, value in now.items()}


def record_usage(trial, lm, before: dict[str, float] | None) -> None:
    """Store what `lm` used since `before` as the trial's user attributes `lm_calls`,
    `lm_prompt_tokens`, `lm_completion_tokens`, `lm_cost_usd`, `lm_unpriced_calls`, `lm_seconds`
    (nothing for a model that keeps no counters). Called just before the trial is told."""
    for key, used in usage_since(lm, before).items():
        trial.set_user_attr(f"lm_{key}", round(used, 6) if isinstance(used, float) else used)
