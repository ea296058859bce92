"""The `propose` block of a search space: LLM-driven instruction proposal (APE, OPRO)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from promptsearch.config.yamlio import Fields
from promptsearch.errors import excerpt

METHODS = ("induction", "refinement", "resampling")


@dataclass(frozen=True)
class ProposeSpec:
    methods: tuple[str, ...] = METHODS
    every: int = 5  # a refinement/resampling round after every `every` finished trials
    rounds: int = 4  # rounds at most (the induction round counts)
    n: int = 4  # proposals asked for per method and round (per draw, for induction)
    draws: int = 2  # induction: how many different draws of example pairs
    examples: int = 5  # input/output pairs shown to the proposer
    top: int = 5  # refinement: best instructions shown with their scores; resampling: paraphrased
    temperature: float = 0.9
    max_tokens: int = 48  # longest proposal, in tokens
    max_words: int = 60  # proposals longer than this are rejected

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["methods"] = list(self.methods)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ProposeSpec":
        return cls(**{**d, "methods": tuple(d["methods"])})


def parse_propose(raw: dict[str, Any], path: str | Path) -> ProposeSpec:
    f = Fields(raw, path, prefix="propose.")
    methods = f.str_list("methods") or list(METHODS)
    for i, m in enumerate(methods):
        if m not in METHODS:
            raise f.error(f"methods[{i}]", f"is '{excerpt(m)}'; allowed: {', '.join(METHODS)}")
    values: dict[str, Any] = {"methods": tuple(dict.fromkeys(methods))}
    for key, low, high in (("every", 1, 10_000), ("rounds", 1, 1_000), ("n", 1, 64), ("draws", 1, 64),
                           ("examples", 1, 64), ("top", 1, 64), ("max_tokens", 4, 1_024),
                           ("max_words", 3, 1_000)):
        value = f.get(key, int, default=getattr(ProposeSpec, key))
        if not low <= value <= high:
            raise f.error(key, f"must be an integer from {low} to {high}, got {excerpt(value)}")
        values[key] = value
    temperature = f.get("temperature", (int, float), default=ProposeSpec.temperature)
    if not 0 < temperature <= 2:
        raise f.error("temperature", f"must be above 0 and at most 2, got {temperature}")
    values["temperature"] = float(temperature)
    f.done()
    return ProposeSpec(**values)
