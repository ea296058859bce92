"""`least_to_most`: decompose the question into sub-questions, answer them in order (each answer
appended to the context), then answer the original question the same way (Zhou et al., 2023).

It opens with its own decomposition request where a CoT trigger would go, so it samples no trigger.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.lm.base import LM, GenerateRequest
from promptsearch.render.prompt import Candidate
from promptsearch.strategies.base import Choice, Decoding, Item, Strategy, Trace, param, register_strategy
from promptsearch.strategies.reasoning import Reasoning, question_stop
from promptsearch.strategies.steps import answer_step_scored, logprob_at

DECOMPOSE = "Let's break this problem down into simpler sub-questions, one per line:\n1."
SOLVE = "Let's answer the sub-questions one by one."


def subquestions(decomposition: str, limit: int) -> list[str]:
    """The numbered sub-questions a decomposition listed ('1.' is in the prompt, so the text
    starts with the first one), without their numbers; at most `limit`, up to a blank line."""
    out = []
    for line in decomposition.strip().split("\n\n")[0].splitlines():
        q = re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", line).strip()
        if q:
            out.append(q)
        if len(out) >= limit:
            break
    return out


@register_strategy("least_to_most")
@dataclass(frozen=True)
class LeastToMost(Reasoning):
    max_subquestions: int = param("max_subquestions", 3)
    bootstraps: ClassVar[bool] = True

    def key_parts(self) -> list[str]:
        return [f"q{self.max_subquestions}"]

    @classmethod
    def triggers(cls, space: SpaceSpec) -> tuple[str | None, ...]:
        return (None,)

    @classmethod
    def settings(cls, space: SpaceSpec, task: TaskSpec) -> list[Choice]:
        return [*super().settings(space, task), Choice("max_subquestions", (space.max_subquestions,))]

    @classmethod
    def for_bootstrap(cls, space: SpaceSpec) -> Strategy:
        return replace(super().for_bootstrap(space), max_subquestions=space.max_subquestions)  # type: ignore[type-var]

    def trigger(self, candidate: Candidate) -> str | None:
        return None  # the decomposition request opens the answer instead

    def run(self, lm: LM, task: TaskSpec, items: Sequence[Item], decoding: Decoding) -> list[Trace]:
        base = [t.fill(e) + t.answer_prefix for t, e in items]  # where the model's answer starts
        plans = lm.generate([GenerateRequest(context=b + DECOMPOSE, max_new_tokens=self.max_tokens,
                                             stop=("\n\n", question_stop(t.text, task)))
                             for b, (t, _) in zip(base, items)])
        subs = [subquestions(p.texts[0], self.max_subquestions) for p in plans]
        solved = [""] * len(items)  # the Q/A transcript so far
        logps = [0.0] * len(items)
        for step in range(max((len(s) for s in subs), default=0)):
            live = [i for i, s in enumerate(subs) if step < len(s)]
            asks = [f"{solved[i]}\nQ: {subs[i][step]}\nA:" for i in live]
            out = lm.generate([GenerateRequest(context=base[i] + SOLVE + ask,
                                               max_new_tokens=max(8, self.max_tokens // 2), stop=("\n",))
                               for i, ask in zip(live, asks)])
            for i, ask, r in zip(live, asks, out):
                solved[i] = f"{ask} {r.texts[0].strip()}"
                logps[i] += logprob_at(r.logprobs, 0)
        contexts = [b + SOLVE + s for b, s in zip(base, solved)]
        answers = answer_step_scored(lm, task, contexts, solved, decoding, self.label_answer == "rank")
        return [Trace(a, f"{SOLVE}{s}".strip(), lp + alp, scores)
                for s, lp, (a, alp, scores) in zip(solved, logps, answers)]
