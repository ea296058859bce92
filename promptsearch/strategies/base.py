"""The Strategy base class, the registry of strategies, and what every strategy shares.

A strategy is one frozen dataclass: its fields are the settings that change the model's output
(reasoning tokens, sampled paths, ...), each stored in a candidate's parameters under the name
its field metadata gives (`param("sc_samples", 1)`), so a stored candidate comes back as the
same object (`from_params`). The class says, in one place:

  identity    `key()`: an exact description, part of the evaluation-cache key and (`hash_key`)
              of the prompt hash
  search      `demo_count`, `triggers`, `settings`: the Optuna parameters search/params.py samples
              for it (a `Choice` with one value is fixed, not sampled); `for_bootstrap`: the
              strategy that makes rationales for demonstrations, if it can
  rendering   `layout()`: where things go in the prompt (render.Layout)
  running     `run()`: how a batch of (template, example) pairs becomes answers on an LM
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.errors import ConfigError
from promptsearch.lm.base import LM
from promptsearch.registry import Registry
from promptsearch.render.prompt import Candidate, Layout, PromptTemplate

Item = tuple[PromptTemplate, Example]
S = TypeVar("S", bound=type["Strategy"])

STRATEGIES: Registry[type[Strategy]] = Registry("strategy")


def register_strategy(name: str, *, replace: bool = False) -> Callable[[S], S]:
    """Class decorator: `@register_strategy("name")` names the class and registers it."""
    def add(cls: S) -> S:
        cls.name = name
        STRATEGIES.add(name, cls, replace=replace)
        return cls
    return add


def param(name: str, default: Any) -> Any:
    """A strategy setting stored in the candidate's parameters as `name`."""
    return dataclasses.field(default=default, metadata={"param": name})


@dataclass(frozen=True)
class Trace:
    """What a strategy made of one example."""

    prediction: str
    rationale: str = ""  # the reasoning that led to it (empty for direct)
    logprob: float = 0.0  # of the chosen path (reasoning + answer)
    # label tasks, where the strategy ranked the labels once: each label's ranking score (summed or
    # mean token log-prob, as the search scored), in the task's label order; None otherwise
    label_scores: tuple[float, ...] | None = None


# a ranked label task's answer: (label, its log-prob, every label's ranking score in the task's
# label order, or None where the mode gives none)
Ranked = tuple[str, float, tuple[float, ...] | None]


@dataclass(frozen=True)
class Decoding:
    """How an answer is obtained. The strategies read it; with the strategy's own settings it is
    the evaluation cache key's decoding part (evaluate/evaluator.py: decoding_key)."""

    max_new_tokens: int = 32  # direct generation
    length_normalize: bool = False  # label ranking by mean instead of summed token log-prob
    label_mode: str = "loglikelihood"  # or first-token, generate (evaluate/labels.py)
    # label tasks in a mode other than loglikelihood: how the labels are ranked, (lm, labels,
    # contexts, prefixes) -> (label, log-prob, each label's score or None) per context. Set from
    # label_mode by evaluate/evaluator.py (with_label_scorer; evaluate/labels.py is a layer
    # above); a function of label_mode, so not part of equality
    label_scorer: Callable[[LM, Sequence[str], list[str], list[str]], list[Ranked]] | None = \
        dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Choice:
    """One Optuna parameter: stored as `key`, sampled as `name` (default: the key) from `choices`;
    fixed, not sampled, when there is one choice."""

    key: str
    choices: tuple[Any, ...]
    name: str = ""

    @property
    def optuna_name(self) -> str:
        return self.name or self.key


class Strategy(ABC):
    """How a prompt is turned into an answer; subclasses are frozen dataclasses (see the module
    docstring). Register one with `@register_strategy("name")`."""

    name: ClassVar[str] = ""
    rationale_demos: ClassVar[bool] = False  # its demonstrations carry a rationale (search/bootstrap.py)
    bootstraps: ClassVar[bool] = False  # it can find rationales for demonstrations (`for_bootstrap`)

    # ------------------------------------------------------------------ identity

    @abstractmethod
    def key(self) -> str:
        """A short, exact description (part of prompt hashes and cache keys)."""

    def hash_key(self) -> str | None:
        """What goes into the prompt hash and the cache key: `key()` (direct: nothing)."""
        return self.key()

    def to_params(self) -> dict[str, Any]:
        """The candidate parameters that stand for this strategy (inverse of `from_params`)."""
        out: dict[str, Any] = {"strategy": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.metadata["param"]] = getattr(self, f.name)
        return out

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Self:
        """Read from a candidate's parameters (missing ones take their defaults)."""
        values = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.metadata["param"] in params:
                values[f.name] = _like(f.default, params[f.metadata["param"]])
        return cls(**values)

    @classmethod
    def describe(cls, params: dict[str, Any]) -> str:
        """A short label for tables (`promptsearch show`)."""
        return cls.name

    # ------------------------------------------------------------------ the search space

    @classmethod
    def demo_count(cls, space: SpaceSpec) -> Choice | None:
        """How many demonstrations to show (stored as n_demos); None: none ever."""
        return None

    @classmethod
    def triggers(cls, space: SpaceSpec) -> tuple[str | None, ...]:
        """The CoT triggers it may use (None: no trigger)."""
        return space.cot_triggers

    @classmethod
    def settings(cls, space: SpaceSpec, task: TaskSpec) -> list[Choice]:
        """Its own parameters, sampled after the trigger, in this order."""
        return []

    @classmethod
    def for_bootstrap(cls, space: SpaceSpec) -> Strategy:
        """The strategy bootstrapping runs on train examples (only where `bootstraps`)."""
        raise NotImplementedError(f"{cls.name} does not bootstrap rationales")

    # ------------------------------------------------------------------ rendering and running

    @abstractmethod
    def layout(self, candidate: Candidate, task: TaskSpec) -> Layout:
        """Where things go in the prompt (render.prompt lays it out)."""

    @abstractmethod
    def run(self, lm: LM, task: TaskSpec, items: Sequence[Item], decoding: Decoding) -> list[Trace]:
        """One Trace per item, in order; each stage one batched LM call for all items."""


def _like(default: Any, value: Any) -> Any:
    """`value` as the type of a setting's default (a stored 1 is 1.0 for a float setting)."""
    return value if default is None else type(default)(value)


def strategy_from_params(params: dict[str, Any]) -> Strategy:
    """The strategy a candidate's parameters name; a candidate stored before strategies is direct."""
    return STRATEGIES.get(params.get("strategy", "direct"), "parameter 'strategy'").from_params(params)


def describe(params: dict[str, Any]) -> str:
    """A candidate's strategy for tables; an unregistered name (a plug-in not loaded) as it is."""
    name = params.get("strategy", "direct")
    return STRATEGIES.get(name).describe(params) if name in STRATEGIES else name


def check_space(space: SpaceSpec) -> None:
    """The strategy names a search space uses, checked against the registry (config keeps them as
    strings: it is the lowest layer). One-line ConfigErrors naming the file and field."""
    where = f"{space.source}: field"
    for i, name in enumerate(space.strategies):
        if name not in STRATEGIES:
            raise ConfigError(f"{where} 'strategies[{i}]' is '{name}'; allowed: {', '.join(STRATEGIES.names())}")
    for name in space.strategies:
        count = STRATEGIES.get(name).demo_count(space)
        if count is not None and not count.choices:
            raise ConfigError(f"{where} 'strategies' lists {name}, which needs demos; "
                              f"add a count above 0 to demos.counts")
    bootstrapping = [name for name, cls in STRATEGIES.items() if cls.bootstraps]
    if space.bootstrap_strategy not in bootstrapping:
        raise ConfigError(f"{where} 'bootstrap.strategy' is '{space.bootstrap_strategy}'; "
                          f"allowed: {', '.join(bootstrapping)}")
