"""Proposal methods: what each one asks the proposer (a registry: `PROPOSAL_METHODS`).

A method turns what the search knows so far (`MethodInput`: the task, train examples, the best
scored instructions, and on demand the best prompt's failures on dev) into meta-prompts
(`Asks`): n answers are sampled for each prompt, cleaned, checked and stored with the parents
given here. `initial` methods run in round 0, before any trial (they need no scores); the others
in every later round.

Built in: APE induction (Zhou et al. 2022), OPRO refinement (Yang et al. 2023), APE's iterative
resampling, and GEPA-style reflection (Agrawal et al. 2025) on the best prompt's dev failures.
Adding one is a class with `@PROPOSAL_METHODS.register("name")`, in any module imported before the
search starts; the name goes in the space's `propose.methods`.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from promptsearch.config.propose import ProposeSpec
from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.errors import ConfigError, excerpt
from promptsearch.propose import prompts
from promptsearch.registry import Registry


@dataclass(frozen=True)
class Asks:
    """Meta-prompts to send, `n` answers each, and each prompt's parents (stored with its proposals)."""

    prompts: list[str]
    n: int
    parents: list[list[dict]]


@dataclass(kw_only=True)
class MethodInput:
    task: TaskSpec
    spec: ProposeSpec
    train: list[Example]
    rng: random.Random  # seeded per search, round and method
    scored: list[dict]  # best first, at most spec.top: {"index": pool index, "text", "score"}
    # the best trial's parent entry and up to k of its dev failures (see failures.py); raises if none
    failures: Callable[[int], tuple[dict, list[dict]]] = field(default=lambda k: ({}, []))

    def sample_train(self) -> list[Example]:
        return self.rng.sample(self.train, min(self.spec.examples, len(self.train)))


class ProposalMethod(Protocol):
    initial: bool  # runs in round 0 from examples alone

    def asks(self, inp: MethodInput) -> Asks: ...


PROPOSAL_METHODS: Registry[ProposalMethod] = Registry("proposal method")


def round_methods(spec: ProposeSpec, rnd: int) -> list[str]:
    """The methods of round `rnd`: the initial ones in round 0, the others later (the initial
    ones again when there are no others)."""
    initial = [m for m in spec.methods if PROPOSAL_METHODS.get(m, "propose.methods").initial]
    if rnd == 0:
        return initial
    return [m for m in spec.methods if m not in initial] or initial


def _need_scores(inp: MethodInput) -> None:
    if not inp.scored:
        raise RuntimeError("no scored instruction yet to refine")


@PROPOSAL_METHODS.register("induction")
class Induction:
    initial = True

    @staticmethod
    def asks(inp: MethodInput) -> Asks:
        texts = [prompts.induction(inp.task, inp.sample_train()) for _ in range(inp.spec.draws)]
        return Asks(texts, inp.spec.n, [[] for _ in texts])


@PROPOSAL_METHODS.register("refinement")
class Refinement:
    initial = False

    @staticmethod
    def asks(inp: MethodInput) -> Asks:
        _need_scores(inp)
        text = prompts.refinement(inp.task, [(p["text"], p["score"]) for p in inp.scored], inp.sample_train())
        return Asks([text], inp.spec.n, [list(inp.scored)])


@PROPOSAL_METHODS.register("resampling")
class Resampling:
    initial = False

    @staticmethod
    def asks(inp: MethodInput) -> Asks:
        _need_scores(inp)
        best = inp.scored[: inp.spec.n]
        return Asks([prompts.resampling(p["text"]) for p in best], 1, [[p] for p in best])


@PROPOSAL_METHODS.register("reflection")
class Reflection:
    """The best prompt's instruction and up to `examples` dev examples it gets wrong; the parent
    stored with the proposals names the trial and the failures' example ids."""

    initial = False

    @staticmethod
    def asks(inp: MethodInput) -> Asks:
        _need_scores(inp)
        parent, failures = inp.failures(inp.spec.examples)
        return Asks([prompts.reflection(inp.task, parent["text"], failures)], inp.spec.n, [[parent]])


def check_propose(space: SpaceSpec) -> None:
    """The method names of a space's `propose` block, checked against the registry (config keeps
    them as strings: it is the lowest layer). One-line ConfigError naming the file and field."""
    if not space.propose:
        return
    for i, name in enumerate(space.propose["methods"]):
        if name not in PROPOSAL_METHODS:
            raise ConfigError(f"{space.source}: field 'propose.methods[{i}]' is '{excerpt(name)}'; "
                              f"allowed: {', '.join(PROPOSAL_METHODS.names())}")
