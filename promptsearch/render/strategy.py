"""Reasoning strategies: what each one is, and the text around the model's reasoning.

A `Strategy` is part of a prompt's identity: two candidates with the same text but a different
strategy (or number of sampled paths, or temperature) answer differently, so the strategy's key
goes into the prompt hash (and hence into the evaluation cache key and the candidate row).

Layout of a reasoning prompt (plain; the chat layout puts the same text in the assistant turn):

    Question: {question}
    Answer: Let's think step by step.{the model's reasoning}
    Therefore, the answer (arabic numerals) is{the answer}

The first line after the inputs is where the model starts to write; `answer_trigger` (Kojima et
al.'s answer-extraction prompt, worded for the answer type) turns the reasoning into an answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from promptsearch.config.task import TaskSpec

STRATEGIES = ("direct", "zero_shot_cot", "few_shot_cot", "self_consistency", "least_to_most")
WITH_DEMOS = ("direct", "few_shot_cot", "self_consistency")  # strategies that show demonstrations
WITH_RATIONALES = ("few_shot_cot", "self_consistency")  # their demos carry a rationale
LABEL_ANSWERS = ("rank", "extract")  # label tasks after reasoning: rank labels, or extract one
RATIONALE = "__rationale__"  # the key a demo's rationale has in Example.fields (and stored demos)
# Bump when the reasoning layout or the answer extraction changes: cached results keyed by the
# old version then no longer apply (the version is part of every reasoning strategy's key).
VERSION = "v2"
ANSWER_LINE = "Answer:"  # where the model's reasoning starts (plain layout)
DECOMPOSE = "Let's break this problem down into simpler sub-questions, one per line:\n1."
SOLVE = "Let's answer the sub-questions one by one."


@dataclass(frozen=True)
class Strategy:
    """How a prompt is turned into an answer (everything here changes the model's output)."""

    name: str = "direct"
    max_tokens: int = 128  # reasoning tokens per path (per decomposition and sub-answer for LtM)
    samples: int = 1  # reasoning paths (self-consistency)
    temperature: float = 0.0  # 0 = greedy
    label_answer: str = "rank"  # label tasks: rank the labels after the reasoning, or extract one
    max_subquestions: int = 3  # least-to-most
    seed: int = 0  # sampling seed (self-consistency)

    @property
    def reasons(self) -> bool:
        return self.name != "direct"

    def key(self) -> str:
        """A short, exact description (part of prompt hashes and cache keys)."""
        if not self.reasons:
            return "direct"
        parts = [VERSION, self.name, f"r{self.max_tokens}", self.label_answer]
        if self.name == "self_consistency":
            parts += [f"n{self.samples}", f"t{self.temperature:g}", f"s{self.seed}"]
        if self.name == "least_to_most":
            parts.append(f"q{self.max_subquestions}")
        return ":".join(parts)

    def to_params(self) -> dict[str, Any]:
        """The candidate parameters that stand for this strategy (inverse of `from_params`)."""
        p: dict[str, Any] = {"strategy": self.name}
        if self.reasons:
            p.update(max_reasoning_tokens=self.max_tokens, label_answer=self.label_answer)
        if self.name == "self_consistency":
            p.update(sc_samples=self.samples, sc_temperature=self.temperature, sc_seed=self.seed)
        if self.name == "least_to_most":
            p["max_subquestions"] = self.max_subquestions
        return p

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Strategy":
        """Read from a candidate's parameters; a candidate stored before strategies is direct."""
        name = params.get("strategy", "direct")
        if name not in STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
        sc = name == "self_consistency"
        return cls(name=name, max_tokens=int(params.get("max_reasoning_tokens", 128)),
                   samples=int(params.get("sc_samples", 1)) if sc else 1,
                   temperature=float(params.get("sc_temperature", 0.0)) if sc else 0.0,
                   label_answer=params.get("label_answer", "rank"),
                   max_subquestions=int(params.get("max_subquestions", 3)),
                   seed=int(params.get("sc_seed", 0)) if sc else 0)


DIRECT = Strategy()


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
        labels = list(task.labels)
        options = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
        return f"Therefore, the answer ({options}) is"
    return "Therefore, the answer is"


def reasoning_stops(task: TaskSpec) -> tuple[str, ...]:
    """Where a reasoning path ends: a blank line, the next question (the first input's label
    at the start of a line), or the model writing the answer sentence itself (the extraction
    step then writes it again, in its canonical form)."""
    from promptsearch.render.prompt import display_name

    return ("\n\n", f"\n{display_name(task.inputs[0])}:", "Therefore, the answer")


_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K's calculator annotations: "<<48/2=24>>"


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
