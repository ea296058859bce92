"""What the reasoning strategies share: the text around the model's reasoning, and chains of thought.

Layout of a reasoning prompt (plain; the chat layout puts the same text in the assistant turn):

    Question: {question}
    Answer: Let's think step by step.{the model's reasoning}
    Therefore, the answer (arabic numerals) is{the answer}

The first line after the inputs is where the model starts to write; the answer-extraction step
(steps.py) turns the reasoning into an answer. A chain of thought: reason (n paths per example;
greedy unless a subclass samples), answer every path, keep the (voted) answer.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.lm.base import LM, GenerateRequest
from promptsearch.render.demos import RATIONALE
from promptsearch.render.prompt import Candidate, Layout, display_name, slot
from promptsearch.strategies.base import Choice, Decoding, Item, Strategy, Trace, param
from promptsearch.strategies.extract import vote
from promptsearch.strategies.steps import answer_step_scored, answer_trigger, logprob_at

# Bump when the reasoning layout or the answer extraction changes: cached results keyed by the
# old version then no longer apply (the version is part of every reasoning strategy's key).
VERSION = "v2"
ANSWER_LINE = "Answer:"  # where the model's reasoning starts (plain layout)
_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations: "<<48/2=24>>"


def question_stop(template_text: str, task: TaskSpec) -> str:
    """How this prompt opens an example's first input, at the start of a line: "\nReview:" in
    today's format, "\nINPUT -" with generic upper-case names and ' - ' (render/format.py). Read
    from the rendered template (the line before the input's slot), so a model that starts
    writing the next example is stopped whatever the format; the data's name when there is none."""
    at = template_text.rfind(slot(task.inputs[0]))
    head = template_text[:max(at, 0)].rstrip(" \t")
    line = head.rsplit("\n", 1)[-1] if not head.endswith("\n") else head[:-1].rsplit("\n", 1)[-1]
    line = line.strip()
    return f"\n{line}" if at >= 0 and line else f"\n{display_name(task.inputs[0])}:"


def reasoning_stops(task: TaskSpec, template_text: str) -> tuple[str, ...]:
    """Where a reasoning path ends: a blank line, the next question (question_stop), or the model
    writing the answer sentence itself (the extraction step then writes it again, in its
    canonical form)."""
    return ("\n\n", question_stop(template_text, task), "Therefore, the answer")


def clean_rationale(text: str) -> str:
    """One paragraph: calculator annotations and '#### 72' answer lines removed, lines joined.
    A blank line would end the reasoning early (it is a stop string), so there is none."""
    text = _CALCULATOR.sub("", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("####")]
    return " ".join(lines)


def reasoning_answer(rationale: str | None, answer: str, trigger: str | None, task: TaskSpec) -> str:
    """What follows a demo's answer line: the trigger, the rationale, and the answer sentence."""
    head = " ".join(x for x in (trigger, clean_rationale(rationale or "")) if x)
    return f"{head}\n{answer_trigger(task)} {answer}."


@dataclass(frozen=True)
class Reasoning(Strategy):
    """A strategy that reasons before it answers; subclasses register themselves."""

    max_tokens: int = param("max_reasoning_tokens", 128)  # reasoning tokens per path
    label_answer: str = param("label_answer", "rank")  # label tasks: rank the labels after reasoning, or extract one
    rationale_demos: ClassVar[bool] = True

    def key(self) -> str:
        return ":".join([VERSION, self.name, f"r{self.max_tokens}", self.label_answer, *self.key_parts()])

    def key_parts(self) -> list[str]:
        """A subclass's own settings, as they go into its key."""
        return []

    @classmethod
    def settings(cls, space: SpaceSpec, task: TaskSpec) -> list[Choice]:
        answers = space.label_answers if task.is_classification else ("rank",)
        return [Choice("max_reasoning_tokens", (space.max_reasoning_tokens,)), Choice("label_answer", answers)]

    @classmethod
    def for_bootstrap(cls, space: SpaceSpec) -> Strategy:
        return cls(max_tokens=space.max_reasoning_tokens, label_answer=space.label_answers[0])

    # ------------------------------------------------------------------ rendering

    def trigger(self, candidate: Candidate) -> str | None:
        """The text the model's answer opens with (the CoT trigger)."""
        return candidate.cot_trigger

    def layout(self, candidate: Candidate, task: TaskSpec) -> Layout:
        trigger = self.trigger(candidate)
        return Layout(answer_line=ANSWER_LINE, opening=trigger, demo_answer=lambda demo: reasoning_answer(
            demo.fields.get(RATIONALE), demo[task.output], trigger, task))

    # ------------------------------------------------------------------ running

    def sampling(self) -> tuple[int, float, int]:
        """(reasoning paths per example, temperature, seed): one greedy path."""
        return 1, 0.0, 0

    def run(self, lm: LM, task: TaskSpec, items: Sequence[Item], decoding: Decoding) -> list[Trace]:
        """Reason (n paths per example), answer every path, keep the (voted) answer."""
        contexts = [t.fill(e) for t, e in items]
        stops = [reasoning_stops(task, t.text) for t, _ in items]
        paths = self.reason(lm, contexts, stops)  # (example index, context + reasoning, reasoning, logprob)
        scored = answer_step_scored(lm, task, [c for _, c, _, _ in paths], [r for _, _, r, _ in paths], decoding,
                                    self.label_answer == "rank")
        answers = [(a, alp) for a, alp, _ in scored]
        traces = []
        for i in range(len(items)):
            mine = [(why.strip(), lp + alp, a) for (j, _, why, lp), (a, alp) in zip(paths, answers) if j == i]
            winner = vote([a for _, _, a in mine], [lp for _, lp, _ in mine]) if len(mine) > 1 else mine[0][2]
            # the rationale shown for it: the most probable path that gave the winning answer
            agree = [m for m in mine if m[2] == winner] or mine
            why, lp, _ = max(agree, key=lambda m: m[1])
            # one path ranked the labels: their scores (several paths vote: no single distribution)
            ranked = [sc for (j, *_), (_, _, sc) in zip(paths, scored) if j == i]
            traces.append(Trace(winner, why, lp, ranked[0] if len(ranked) == 1 else None))
        return traces

    def reason(self, lm: LM, contexts: list[str],
               stops: Sequence[tuple[str, ...]]) -> list[tuple[int, str, str, float]]:
        """Every reasoning path of every context: (index, context + reasoning, reasoning, logprob);
        `stops`: each context's stop strings (reasoning_stops of its template).

        Small models often open with a blank line ("step by step.\\n\\nFirst, ..."), which is also
        where reasoning stops; a path that comes back empty is asked again after that blank line.
        """
        samples, temperature, seed = self.sampling()

        def request(context: str, n: int, seed: int, stop: tuple[str, ...]) -> GenerateRequest:
            return GenerateRequest(context=context, max_new_tokens=self.max_tokens, stop=stop,
                                   temperature=temperature, num_return_sequences=n, seed=seed)

        results = lm.generate([request(c, samples, seed, stop) for c, stop in zip(contexts, stops)])
        paths: list[list[Any]] = [[i, c, r.texts[k], logprob_at(r.logprobs, k)]  # index, context, text, lp
                                  for i, (c, r) in enumerate(zip(contexts, results)) for k in range(len(r.texts))]
        empty = [p for p in paths if not p[2].strip()]
        if empty:
            again = lm.generate([request(p[1] + "\n\n", 1, seed * 1000 + n, stops[p[0]])
                                 for n, p in enumerate(empty)])
            for p, r in zip(empty, again):
                p[1], p[2], p[3] = p[1] + "\n\n", r.texts[0], logprob_at(r.logprobs, 0)
        return [(i, c + why.rstrip(), why, lp) for i, c, why, lp in paths]

