"""An LLM judge as a metric: `metric: {judge: {rubric: "...", model: MODEL}}` in the task file.

The judge reads the rubric, the example's inputs, a reference answer and the prediction, and is
asked whether the prediction meets the rubric. Its backend (evaluate/judge.py, which owns the
model) turns each question into P(Yes) in [0, 1]: a local model from the log-likelihoods of
"Yes" and "No" (graded, one batched pass for every question), a remote one from its answer.
With several acceptable answers each is asked about and the best counts.

The identity (in the evaluation cache key) covers the judge model's fingerprint, the rubric and
the question's wording (QUESTION_VERSION), so a changed rubric or judge never reuses old scores.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.data.metrics import Metric, Scored, as_scored

QUESTION_VERSION = 1  # raise when the wording below changes


class JudgeBackend(Protocol):
    fingerprint: str  # the judge model's identity (never a display name)

    def yes_probabilities(self, questions: Sequence[str]) -> list[tuple[float, str]]:
        """P(Yes) for each question, with a note on how it was read (for the feedback)."""


def question(task: TaskSpec, rubric: str, example: Example, reference: str, prediction: str) -> str:
    inputs = "\n".join(f"{name}: {example[name]}" for name in task.inputs)
    return (f"You are grading an answer.\nRubric: {rubric.strip()}\n\n{inputs}\n"
            f"Reference answer: {reference}\nAnswer to grade: {prediction}\n\n"
            f"Does the answer to grade meet the rubric? Reply with Yes or No.")


class JudgeMetric(Metric):
    version = QUESTION_VERSION

    def __init__(self, task: TaskSpec, backend: JudgeBackend):
        super().__init__(task)
        self.backend = backend
        self.rubric = (task.judge or {})["rubric"]
        self.name = f"judge({(task.judge or {}).get('model') or 'the searched model'})"

    def models(self) -> list:
        """The judge's model (evaluate/judge.py's backends keep it as `lm`), for budgets."""
        model = getattr(self.backend, "lm", None)
        return [model] if model is not None else []

    @property
    def identity(self) -> str:
        blob = f"{self.backend.fingerprint}\x1f{self.rubric}\x1f{QUESTION_VERSION}".encode()
        return "judge:" + hashlib.sha256(blob).hexdigest()[:16]

    def score(self, prediction: str, example: Example):
        got = self._scored([prediction], [example])[0]
        return got.value, got.feedback

    def score_many(self, predictions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        return self._scored(predictions, examples)

    def _scored(self, predictions: Sequence[str], examples: Sequence[Example]) -> list[Scored]:
        asks: list[tuple[int, str]] = []  # (example index, question): one per acceptable answer
        for i, (p, e) in enumerate(zip(predictions, examples)):
            asks += [(i, question(self.task, self.rubric, e, ref, p)) for ref in e.answers(self.task.output)]
        answers = self.backend.yes_probabilities([q for _, q in asks]) if asks else []
        best: dict[int, Scored] = {}
        for (i, _), (p_yes, note) in zip(asks, answers):
            got = as_scored((p_yes, f"judge: P(yes) = {p_yes:.3f} ({note})"), self, examples[i])
            if i not in best or got.value > best[i].value:
                best[i] = got
        return [best[i] for i in range(len(examples))]
