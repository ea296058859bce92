"""Screening proposals before they cost a trial: APE's own criterion (Zhou et al. 2022).

Each proposed instruction is scored by the mean log-likelihood of the gold outputs of a few train
examples given the instruction, rendered as the real prompt would be (the best trial's layout,
zero-shot, direct answer):

    requests: P proposals x E examples      LoglikelihoodRequest(prompt_p(x_e), prefix + y_e)
    score_p = mean_e log P(y_e | prompt_p(x_e))      (summed over y_e's tokens)

All P*E requests go to the engine in one call; the requests of one proposal share its prompt
prefix, which the engine reuses. This costs one forward pass per (proposal, example), no
generation, against a full dev evaluation per trial. Only the best `keep` proposals of a method's
part of a round join the pool and are tried; the others are stored with their score and why.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

from promptsearch.config.propose import ScreenSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.lm.base import LM, LoglikelihoodRequest
from promptsearch.render.prompt import Candidate, render_template
from promptsearch.strategies.direct import DIRECT


def screen_examples(train: Sequence[Example], spec: ScreenSpec, seed: int) -> list[Example]:
    """The same train examples for every round of a search (scores stay comparable)."""
    return random.Random(f"screen:{seed}").sample(list(train), min(spec.examples, len(train)))


def screen_scores(lm: LM, task: TaskSpec, template: str, instructions: Sequence[str],
                  examples: Sequence[Example]) -> list[float]:
    """score_p for each instruction (see the module docstring), in one loglikelihood call."""
    chat = lm.apply_chat_template if template == "chat" else None
    prompts = [render_template(Candidate(instruction=text, template=template, strategy=DIRECT), task, chat)
               for text in instructions]
    requests = [LoglikelihoodRequest(p.fill(ex), p.answer_prefix + ex[task.output])
                for p in prompts for ex in examples]
    out = lm.loglikelihood(requests)
    m = len(examples)
    return [sum(r.logprob for r in out[i * m:(i + 1) * m]) / m for i in range(len(instructions))]


def screen_out(scores: Sequence[float], keep: int) -> list[str | None]:
    """For each score: None if among the best `keep` (ties: the earlier proposal), else why not."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    if len(order) <= keep:
        return [None] * len(scores)
    bar = scores[order[keep - 1]]
    reasons: list[str | None] = [None] * len(scores)
    for rank, i in enumerate(order[keep:], start=keep + 1):
        relation = "<" if scores[i] < bar else "="  # a tie goes to the earlier proposal
        reasons[i] = f"screened out: rank {rank} of {len(scores)}, score {scores[i]:.2f} {relation} {bar:.2f}"
    return reasons
