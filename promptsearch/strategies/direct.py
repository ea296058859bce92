"""`direct`: answer right after the prompt. Label tasks rank the labels by log-likelihood (one
call for every example and label); generation tasks decode greedily to the end of the line.

Its templates are hashed as they were before strategies existed (`hash_key` is None), so the
evaluation cache and stored searches of that time stay valid.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.lm.base import LM, GenerateRequest
from promptsearch.render.prompt import Candidate, Layout, display_name
from promptsearch.strategies.base import Choice, Decoding, Item, Strategy, Trace, register_strategy
from promptsearch.strategies.steps import logprob_at, rank_scored


@register_strategy("direct")
@dataclass(frozen=True)
class Direct(Strategy):
    """The plain layout: a CoT trigger, if any, ends every input block; "Label: positive"."""

    def key(self) -> str:
        return "direct"

    def hash_key(self) -> str | None:
        return None

    @classmethod
    def demo_count(cls, space: SpaceSpec) -> Choice | None:
        return Choice("n_demos", space.demo_counts)

    def layout(self, candidate: Candidate, task: TaskSpec) -> Layout:
        return Layout(answer_line=f"{display_name(task.output)}:", demo_answer=lambda demo: demo[task.output],
                      block_trigger=candidate.cot_trigger)

    def run(self, lm: LM, task: TaskSpec, items: Sequence[Item], decoding: Decoding) -> list[Trace]:
        if task.is_classification:
            contexts = [t.fill(e) for t, e in items]
            best = rank_scored(lm, task, contexts, [t.answer_prefix for t, _ in items], decoding)
            return [Trace(label, "", lp, scores) for label, lp, scores in best]
        requests = [GenerateRequest(context=t.fill(e) + t.answer_prefix.rstrip(),
                                    max_new_tokens=decoding.max_new_tokens, stop=("\n",)) for t, e in items]
        return [Trace(r.texts[0].strip(), "", logprob_at(r.logprobs, 0)) for r in lm.generate(requests)]


DIRECT = Direct()
