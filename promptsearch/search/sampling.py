"""Samplers and pruners: the names a search's settings (`--sampler`, `--pruner`) may use.

`SAMPLERS` maps a name to a function of the seed that builds an Optuna sampler; `PRUNERS` a name
to a function of the chunk size (dev examples per fidelity step) that builds an Optuna pruner.
Adding one is a function with `@SAMPLERS.register("name")` (or PRUNERS) here or in any module
imported before the search starts. Stored settings keep the names, so `resume` builds the same
sampler again. The Python API also takes an Optuna sampler or pruner object for one run
(`run_search(..., sampler=optuna.samplers.CmaEsSampler())`); each trial then records its class.

How dev is scored follows the pruner object, not its name (`Fidelity`): a NopPruner scores the
whole dev split at once; any other pruner scores it in chunks, in one seeded shuffled order,
reporting after each chunk the running mean (step = examples scored), or each example's own
score (step = its dev position) for a WilcoxonPruner, which compares per-instance values.
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import optuna

from promptsearch.errors import ConfigError
from promptsearch.registry import Registry

SAMPLERS: Registry[Callable[[int], optuna.samplers.BaseSampler]] = Registry("sampler")
PRUNERS: Registry[Callable[[int], optuna.pruners.BasePruner]] = Registry("pruner")


@SAMPLERS.register("tpe")
def tpe(seed: int, parallel: int = 1, start: int = 0) -> optuna.samplers.BaseSampler:
    # Several trials asked before any is told (--parallel-candidates): the constant liar gives
    # the running ones the worst value, so a batch spreads out instead of piling on one point.
    # `start` queued trials (search/start.py) come before the 5 random start-up draws, not
    # instead of them: TPE counts every finished trial towards its start-up.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5 + start, constant_liar=parallel > 1)


def make_sampler(name: str, seed: int, parallel: int = 1, start: int = 0) -> optuna.samplers.BaseSampler:
    """The sampler a search's settings name. A builder that takes a `parallel` keyword learns how
    many trials are asked at once (`--parallel-candidates`), one that takes `start` how many
    trials the search queued before sampling (search/start.py); one that takes neither is called
    as before."""
    build: Callable[..., optuna.samplers.BaseSampler] = SAMPLERS.get(name, "--sampler")
    accepts = inspect.signature(build).parameters
    extra = {k: v for k, v in (("parallel", parallel), ("start", start)) if v and k in accepts}
    return build(seed, **extra)


@SAMPLERS.register("random")
def random_sampler(seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


@PRUNERS.register("none")
def no_pruner(chunk_size: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.NopPruner()


@PRUNERS.register("wilcoxon")
def wilcoxon(chunk_size: int) -> optuna.pruners.BasePruner:
    # Paired test of this candidate's per-example scores against the best trial's on the
    # same examples: made for "same instances, different configurations".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.pruners.WilcoxonPruner(p_threshold=0.1, n_startup_steps=chunk_size)


@PRUNERS.register("halving")
def halving(chunk_size: int) -> optuna.pruners.BasePruner:
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=chunk_size, reduction_factor=3)


@dataclass(frozen=True)
class Fidelity:
    """How a run scores dev for its pruner."""

    pruner: optuna.pruners.BasePruner
    chunk: int | None  # dev examples per step; None: the whole split at once (nothing to prune)
    per_example: bool  # report each example's score rather than the running mean


def fidelity(pruner: optuna.pruners.BasePruner, chunk_size: int) -> Fidelity:
    if isinstance(pruner, optuna.pruners.NopPruner):
        return Fidelity(pruner, None, False)
    return Fidelity(pruner, chunk_size, isinstance(pruner, optuna.pruners.WilcoxonPruner))


def check_parallel(parallel: int, pruner: str | optuna.pruners.BasePruner, chunk_size: int = 16) -> None:
    """A pruner scores one candidate chunk by chunk and decides after each chunk; a batch of
    several candidates is scored in one call, so the two do not combine (a one-line error)."""
    if parallel <= 1:
        return
    obj = PRUNERS.get(pruner, "--pruner")(chunk_size) if isinstance(pruner, str) else pruner
    if not isinstance(obj, optuna.pruners.NopPruner):
        shown = pruner if isinstance(pruner, str) else describe(pruner)
        raise ConfigError(f"--parallel-candidates: must be 1 with a pruner (got {parallel} with --pruner "
                          f"{shown}); use --pruner none to score {parallel} candidates per batch")


def describe(obj: object) -> str:
    """What a run records about a sampler or pruner object it was given: its class."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"
