"""LM steps strategies share: ranking the labels after a context, and the answer-extraction step.

Every step sends the whole batch to the backend at once, so HFLM shares the common prompt prefix
and batches the rest.

The answer-extraction step appends "Therefore, the answer ... is" (Kojima et al.'s prompt, worded
for the answer type) and either ranks the labels after it (label tasks with label_answer=rank) or
generates a few tokens and extracts the answer by type (extract.py).
"""
from __future__ import annotations

from promptsearch.config.task import TaskSpec
from promptsearch.lm.base import LM, GenerateRequest, LoglikelihoodRequest
from promptsearch.strategies.base import Decoding, Ranked
from promptsearch.strategies.extract import extract_answer

ANSWER_TOKENS = 10  # the answer after "Therefore, the answer ... is": a number, a label, a name


def answer_type(task: TaskSpec) -> str:
    """'label' (the task lists labels), 'number' (numeric metric) or 'text'."""
    if task.is_classification:
        return "label"
    return "number" if task.metric == "numeric" else "text"


def answer_trigger(task: TaskSpec) -> str:
    """Kojima et al.'s answer-extraction prompt, worded for the answer type."""
    kind = answer_type(task)
    if kind == "number":
        return "Therefore, the answer (arabic numerals) is"
    if kind == "label":
        labels = list(task.labels or ())
        options = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
        return f"Therefore, the answer ({options}) is"
    return "Therefore, the answer is"


def logprob_at(logprobs: list[float], k: int) -> float:
    """The k-th sequence's log-prob (0.0 from a backend that reports none)."""
    return logprobs[k] if k < len(logprobs) else 0.0


def rank(lm: LM, task: TaskSpec, contexts: list[str], prefixes: list[str],
         decoding: Decoding) -> list[tuple[str, float]]:
    """The best label after each context, with its log-prob: every (context, label) pair in one
    call, so the backend shares each context's prefix."""
    return [(label, lp) for label, lp, _ in rank_scored(lm, task, contexts, prefixes, decoding)]


def rank_scored(lm: LM, task: TaskSpec, contexts: list[str], prefixes: list[str],
                decoding: Decoding) -> list[Ranked]:
    """`rank`, with every label's ranking score (in the task's label order) as a third item."""
    labels = task.labels or ()
    if decoding.label_scorer is not None:  # first-token or generate (evaluate/labels.py)
        return decoding.label_scorer(lm, labels, contexts, prefixes)
    out = lm.loglikelihood([LoglikelihoodRequest(c, p + label)
                            for c, p in zip(contexts, prefixes) for label in labels])
    best: list[Ranked] = []
    for i in range(len(contexts)):
        row = out[i * len(labels):(i + 1) * len(labels)]
        scores = [r.logprob / r.num_tokens if decoding.length_normalize else r.logprob for r in row]
        j = max(range(len(labels)), key=scores.__getitem__)
        best.append((labels[j], row[j].logprob, tuple(scores)))
    return best


def answer_step(lm: LM, task: TaskSpec, contexts: list[str], reasoning: list[str], decoding: Decoding,
                rank_labels: bool) -> list[tuple[str, float]]:
    """The answer-extraction step for every context (each ends with the model's reasoning)."""
    return [(a, lp) for a, lp, _ in answer_step_scored(lm, task, contexts, reasoning, decoding, rank_labels)]


def answer_step_scored(lm: LM, task: TaskSpec, contexts: list[str], reasoning: list[str], decoding: Decoding,
                       rank_labels: bool) -> list[tuple[str, float, tuple[float, ...] | None]]:
    """`answer_step`, with the labels' ranking scores where they were ranked (else None)."""
    trigger = "\n" + answer_trigger(task)
    asked = [c + trigger for c in contexts]
    if task.is_classification and rank_labels:
        return list(rank_scored(lm, task, asked, [" "] * len(asked), decoding))
    kind = answer_type(task)
    # Not stopped at the first newline: "is:\nParis" puts the answer on the next line.
    out = lm.generate([GenerateRequest(context=c, max_new_tokens=ANSWER_TOKENS, stop=("\n\n",)) for c in asked])
    answers: list[tuple[str, float, tuple[float, ...] | None]] = []
    for r, why in zip(out, reasoning):
        # Right after the trigger the answer comes first (Kojima et al. take the first number
        # there); if the step gave none, fall back to the reasoning's last one.
        a = extract_answer(r.texts[0], kind, task.labels, first=True)
        answers.append((a or extract_answer(why, kind, task.labels), logprob_at(r.logprobs, 0), None))
    return answers
