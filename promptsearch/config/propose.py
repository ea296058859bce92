"""The `propose` block of a search space: LLM-driven instruction proposal (APE, OPRO, GEPA-style
reflection), and the optional screen that scores proposals before any of them costs a trial.

Method names are kept as strings here: they are a registry of a higher layer
(promptsearch.propose.methods.PROPOSAL_METHODS), which checks them before a search is created.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.yamlio import Fields
from promptsearch.errors import excerpt

METHODS = ("induction", "refinement", "resampling")  # the default list (reflection is opt-in)


@dataclass(frozen=True)
class ScreenSpec:
    """APE's cheap criterion before a trial: the mean log-likelihood of `examples` train outputs
    given each proposal (zero-shot); only the best `keep` of each method's proposals per round
    are tried."""

    examples: int = 8
    keep: int = 2


@dataclass(frozen=True, kw_only=True)
class ProposeSpec:
    methods: tuple[str, ...] = METHODS
    every: int = 5  # a refinement/resampling round after every `every` finished trials
    rounds: int = 4  # rounds at most (the induction round counts)
    n: int = 4  # proposals asked for per method and round (per draw, for induction)
    draws: int = 2  # induction: how many different draws of example pairs
    examples: int = 5  # input/output pairs (reflection: failures) shown to the proposer
    top: int = 5  # refinement: best instructions shown with their scores; resampling: paraphrased
    temperature: float = 0.9
    max_tokens: int = 48  # longest proposal, in tokens
    max_words: int = 60  # proposals longer than this are rejected
    screen: ScreenSpec | None = None  # None: every accepted proposal is tried (no screen)
    # how Optuna samples the pool (propose/pool.py): "categories"; "integer" for searches stored before
    pool_layout: str = "categories"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["methods"] = list(self.methods)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProposeSpec:
        """Also reads dicts stored before `screen` and `pool_layout` existed: no screen and one
        integer for the pool, how those searches ran (so they resume unchanged)."""
        screen = d.get("screen")
        return cls(**{**d, "methods": tuple(d["methods"]), "pool_layout": d.get("pool_layout", "integer"),
                      "screen": ScreenSpec(**screen) if screen is not None else None})


def _ints(f: Fields, defaults: object, limits: tuple[tuple[str, int, int], ...]) -> dict[str, int]:
    values = {}
    for key, low, high in limits:
        value = f.get(key, int, default=getattr(defaults, key))
        if not low <= value <= high:
            raise f.error(key, f"must be an integer from {low} to {high}, got {excerpt(value)}")
        values[key] = value
    return values


def parse_screen(raw: Any, path: str | Path) -> ScreenSpec | None:
    if raw is None:
        return None
    f = Fields(raw, path, prefix="propose.screen.")
    values = _ints(f, ScreenSpec, (("examples", 1, 64), ("keep", 1, 64)))
    f.done()
    return ScreenSpec(**values)


def parse_propose(raw: dict[str, Any], path: str | Path) -> ProposeSpec:
    f = Fields(raw, path, prefix="propose.")
    methods = f.str_list("methods") or list(METHODS)
    values: dict[str, Any] = {"methods": tuple(dict.fromkeys(m.strip() for m in methods))}
    values.update(_ints(f, ProposeSpec, (
        ("every", 1, 10_000), ("rounds", 1, 1_000), ("n", 1, 64), ("draws", 1, 64), ("examples", 1, 64),
        ("top", 1, 64), ("max_tokens", 4, 1_024), ("max_words", 3, 1_000))))
    temperature = f.get("temperature", (int, float), default=ProposeSpec.temperature)
    if not 0 < temperature <= 2:
        raise f.error("temperature", f"must be above 0 and at most 2, got {temperature}")
    values["temperature"] = float(temperature)
    values["screen"] = parse_screen(f.get("screen", dict, default=None), path)
    f.done()
    return ProposeSpec(**values)
