"""Running a strategy on (template, example) pairs: one batched LM call per stage, for all pairs.

Every stage sends the whole batch to the backend at once, so HFLM shares the common prompt
prefix and batches the rest; self-consistency asks for n sequences per request
(`num_return_sequences`) rather than n requests.

  direct            rank the labels by log-likelihood, or generate greedily to the end of the line
  zero/few_shot_cot reason (greedy, up to max_tokens), then the answer-extraction step
  self_consistency  n reasoning paths sampled at temperature T, each answered, majority vote
  least_to_most     decompose into sub-questions, answer them in order (each answer appended
                    to the context), then answer the original question the same way
The answer-extraction step appends "Therefore, the answer ... is" (strategy.answer_trigger) and
either ranks the labels after it (label tasks, label_answer=rank) or generates a few tokens and
extracts the answer by type (extract.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.evaluate.extract import extract_answer, vote
from promptsearch.lm.base import LM, GenerateRequest, LoglikelihoodRequest
from promptsearch.render.prompt import PromptTemplate, display_name
from promptsearch.render.strategy import (
    DECOMPOSE,
    SOLVE,
    Strategy,
    answer_trigger,
    answer_type,
    reasoning_stops,
    subquestions,
)

Item = tuple[PromptTemplate, Example]
ANSWER_TOKENS = 10  # the answer after "Therefore, the answer ... is": a number, a label, a name


@dataclass(frozen=True)
class Trace:
    """What a strategy made of one example."""

    prediction: str
    rationale: str = ""  # the reasoning that led to it (empty for direct)
    logprob: float = 0.0  # of the chosen path (reasoning + answer)


@dataclass(frozen=True)
class Options:
    """Settings of the direct strategy (evaluator.Decoding holds them)."""

    max_new_tokens: int = 32  # direct generation
    length_normalize: bool = False  # label ranking by mean token log-prob


def run_strategy(lm: LM, task: TaskSpec, strategy: Strategy, items: Sequence[Item],
                 options: Options = Options()) -> list[Trace]:
    if not items:
        return []
    if strategy.name == "direct":
        return _direct(lm, task, items, options)
    if strategy.name == "least_to_most":
        return _least_to_most(lm, task, strategy, items, options)
    return _chains(lm, task, strategy, items, options)


# ----------------------------------------------------------------------------- direct

def _direct(lm: LM, task: TaskSpec, items: Sequence[Item], options: Options) -> list[Trace]:
    if task.is_classification:
        # Every (example, label) pair in one call: the backend shares the prompt prefix.
        contexts = [t.fill(e) for t, e in items]
        best = _rank(lm, task, contexts, [t.answer_prefix for t, _ in items], options)
        return [Trace(label, "", lp) for label, lp in best]
    requests = [GenerateRequest(t.fill(e) + t.answer_prefix.rstrip(), max_new_tokens=options.max_new_tokens,
                                stop=("\n",)) for t, e in items]
    return [Trace(r.texts[0].strip(), "", _first(r.logprobs)) for r in lm.generate(requests)]


def _rank(lm: LM, task: TaskSpec, contexts: list[str], prefixes: list[str],
          options: Options) -> list[tuple[str, float]]:
    """The best label after each context, with its log-prob."""
    labels = task.labels
    out = lm.loglikelihood([LoglikelihoodRequest(c, p + label)
                            for c, p in zip(contexts, prefixes) for label in labels])
    best = []
    for i in range(len(contexts)):
        row = out[i * len(labels):(i + 1) * len(labels)]
        scores = [r.logprob / r.num_tokens if options.length_normalize else r.logprob for r in row]
        j = max(range(len(labels)), key=scores.__getitem__)
        best.append((labels[j], row[j].logprob))
    return best


def _first(logprobs: list[float]) -> float:
    return _at(logprobs, 0)


# ----------------------------------------------------------------------------- chains of thought

def _chains(lm: LM, task: TaskSpec, strategy: Strategy, items: Sequence[Item],
            options: Options) -> list[Trace]:
    """Reason (n paths per example), answer every path, keep the (voted) answer."""
    contexts = [t.fill(e) for t, e in items]
    paths = _reason(lm, task, strategy, contexts)  # (example index, context + reasoning, reasoning, logprob)
    answers = _answers(lm, task, strategy, [c for _, c, _, _ in paths], [r for _, _, r, _ in paths], options)
    traces = []
    for i in range(len(items)):
        mine = [(why.strip(), lp + alp, a) for (j, _, why, lp), (a, alp) in zip(paths, answers) if j == i]
        winner = vote([a for _, _, a in mine], [lp for _, lp, _ in mine]) if len(mine) > 1 else mine[0][2]
        # the rationale shown for it: the most probable path that gave the winning answer
        agree = [m for m in mine if m[2] == winner] or mine
        why, lp, _ = max(agree, key=lambda m: m[1])
        traces.append(Trace(winner, why, lp))
    return traces


def _reason(lm: LM, task: TaskSpec, strategy: Strategy,
            contexts: list[str]) -> list[tuple[int, str, str, float]]:
    """Every reasoning path of every context: (index, context + reasoning, reasoning, logprob).

    Small models often open with a blank line ("step by step.\n\nFirst, ..."), which is also
    where reasoning stops; a path that comes back empty is asked again after that blank line.
    """
    def request(context: str, n: int, seed: int) -> GenerateRequest:
        return GenerateRequest(context, max_new_tokens=strategy.max_tokens, stop=reasoning_stops(task),
                               temperature=strategy.temperature, num_return_sequences=n, seed=seed)

    results = lm.generate([request(c, strategy.samples, strategy.seed) for c in contexts])
    paths = [[i, c, r.texts[k], _at(r.logprobs, k)]
             for i, (c, r) in enumerate(zip(contexts, results)) for k in range(len(r.texts))]
    empty = [p for p in paths if not p[2].strip()]
    if empty:
        again = lm.generate([request(p[1] + "\n\n", 1, strategy.seed * 1000 + n)
                             for n, p in enumerate(empty)])
        for p, r in zip(empty, again):
            p[1], p[2], p[3] = p[1] + "\n\n", r.texts[0], _at(r.logprobs, 0)
    return [(i, c + why.rstrip(), why, lp) for i, c, why, lp in paths]


def _at(logprobs: list[float], k: int) -> float:
    return logprobs[k] if k < len(logprobs) else 0.0


def _answers(lm: LM, task: TaskSpec, strategy: Strategy, contexts: list[str], reasoning: list[str],
             options: Options) -> list[tuple[str, float]]:
    """The answer-extraction step for every context (each ends with the model's reasoning)."""
    trigger = "\n" + answer_trigger(task)
    asked = [c + trigger for c in contexts]
    if task.is_classification and strategy.label_answer == "rank":
        return _rank(lm, task, asked, [" "] * len(asked), options)
    kind = answer_type(task)
    # Not stopped at the first newline: "is:\nParis" puts the answer on the next line.
    out = lm.generate([GenerateRequest(c, max_new_tokens=ANSWER_TOKENS, stop=("\n\n",)) for c in asked])
    answers = []
    for r, why in zip(out, reasoning):
        # Right after the trigger the answer comes first (Kojima et al. take the first number
        # there); if the step gave none, fall back to the reasoning's last one.
        a = extract_answer(r.texts[0], kind, task.labels, first=True)
        answers.append((a or extract_answer(why, kind, task.labels), _first(r.logprobs)))
    return answers


# ----------------------------------------------------------------------------- least-to-most

def _least_to_most(lm: LM, task: TaskSpec, strategy: Strategy, items: Sequence[Item],
                   options: Options) -> list[Trace]:
    base = [t.fill(e) + t.answer_prefix for t, e in items]  # where the model's answer starts
    next_question = f"\n{display_name(task.inputs[0])}:"
    plans = lm.generate([GenerateRequest(b + DECOMPOSE, max_new_tokens=strategy.max_tokens,
                                         stop=("\n\n", next_question)) for b in base])
    subs = [subquestions(p.texts[0], strategy.max_subquestions) for p in plans]
    solved = [""] * len(items)  # the Q/A transcript so far
    logps = [0.0] * len(items)
    for step in range(max((len(s) for s in subs), default=0)):
        live = [i for i, s in enumerate(subs) if step < len(s)]
        asks = [f"{solved[i]}\nQ: {subs[i][step]}\nA:" for i in live]
        out = lm.generate([GenerateRequest(base[i] + SOLVE + ask, max_new_tokens=max(8, strategy.max_tokens // 2),
                                           stop=("\n",)) for i, ask in zip(live, asks)])
        for i, ask, r in zip(live, asks, out):
            solved[i] = f"{ask} {r.texts[0].strip()}"
            logps[i] += _first(r.logprobs)
    contexts = [b + SOLVE + s for b, s in zip(base, solved)]
    answers = _answers(lm, task, strategy, contexts, solved, options)
    return [Trace(a, f"{SOLVE}{s}".strip(), lp + alp) for s, lp, (a, alp) in zip(solved, logps, answers)]
