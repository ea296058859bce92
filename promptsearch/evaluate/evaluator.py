"""Scoring a rendered prompt on examples: label ranking by log-likelihood, or greedy generation.

Per-example results are looked up in a cache first (the database, keyed by model, prompt hash,
example id and decoding settings), so a repeated or resumed candidate costs no model calls.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.data.metrics import get_metric
from promptsearch.lm.base import LM, GenerateRequest, LoglikelihoodRequest
from promptsearch.render.prompt import PromptTemplate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExampleResult:
    example_id: str
    prediction: str
    score: float  # the metric's value for this example, in [0, 1]


@dataclass
class Evaluation:
    score: float  # mean over examples
    results: list[ExampleResult]
    computed: int = 0  # examples that needed the model (not cached)
    seconds: float = 0.0


class EvalCache(Protocol):
    def get(self, model: str, prompt_hash: str, decoding: str,
            example_ids: Sequence[str]) -> dict[str, ExampleResult]: ...

    def put(self, model: str, prompt_hash: str, decoding: str,
            results: Sequence[ExampleResult]) -> None: ...


@dataclass(frozen=True)
class Decoding:
    """How an answer is obtained; part of the cache key."""

    max_new_tokens: int = 32
    length_normalize: bool = False  # label ranking by mean instead of summed token log-prob

    def key(self, task: TaskSpec) -> str:
        if task.is_classification:
            labels = hashlib.sha256("\x1f".join(task.labels).encode()).hexdigest()[:12]
            return f"rank:{'mean' if self.length_normalize else 'sum'}:{labels}:{task.metric}"
        return f"greedy:{self.max_new_tokens}:nl:{task.metric}"


@dataclass
class Evaluator:
    lm: LM
    task: TaskSpec
    cache: EvalCache | None = None
    decoding: Decoding = field(default_factory=Decoding)

    def evaluate(self, prompt: PromptTemplate, examples: Sequence[Example]) -> Evaluation:
        start = time.perf_counter()
        key = self.decoding.key(self.task)
        cached = self.cache.get(self.lm.name, prompt.hash, key, [e.id for e in examples]) if self.cache else {}
        todo = [e for e in examples if e.id not in cached]
        fresh = self._compute(prompt, todo) if todo else []
        if self.cache and fresh:
            self.cache.put(self.lm.name, prompt.hash, key, fresh)
        by_id = {**cached, **{r.example_id: r for r in fresh}}
        results = [by_id[e.id] for e in examples]
        score = sum(r.score for r in results) / len(results) if results else 0.0
        seconds = time.perf_counter() - start
        log.debug("prompt %s: %d examples (%d computed) in %.2fs, score %.4f",
                  prompt.hash[:8], len(examples), len(todo), seconds, score)
        return Evaluation(score, results, computed=len(todo), seconds=seconds)

    def _compute(self, prompt: PromptTemplate, examples: Sequence[Example]) -> list[ExampleResult]:
        if self.task.is_classification:
            predictions = self._rank_labels(prompt, examples)
        else:
            predictions = self._generate(prompt, examples)
        metric = get_metric(self.task.metric)
        gold = self.task.output
        return [ExampleResult(e.id, p, metric(p, e[gold])) for e, p in zip(examples, predictions)]

    def _rank_labels(self, prompt: PromptTemplate, examples: Sequence[Example]) -> list[str]:
        """Every (example, label) pair in one call: the backend shares the prompt prefix."""
        labels = self.task.labels
        requests = [LoglikelihoodRequest(prompt.fill(e), prompt.answer_prefix + label)
                    for e in examples for label in labels]
        out = self.lm.loglikelihood(requests)
        predictions = []
        for i in range(len(examples)):
            row = out[i * len(labels):(i + 1) * len(labels)]
            scores = [r.logprob / r.num_tokens if self.decoding.length_normalize else r.logprob for r in row]
            predictions.append(labels[max(range(len(labels)), key=scores.__getitem__)])
        return predictions

    def _generate(self, prompt: PromptTemplate, examples: Sequence[Example]) -> list[str]:
        requests = [GenerateRequest(prompt.fill(e) + prompt.answer_prefix.rstrip(),
                                    max_new_tokens=self.decoding.max_new_tokens, stop=("\n",))
                    for e in examples]
        return [r.texts[0].strip() for r in self.lm.generate(requests)]
