"""Scoring a rendered prompt on examples, with the strategy the prompt carries (promptsearch.strategies).

Per-example results are looked up in a cache first (the database, keyed by the model's
fingerprint -- its weights, never its display name --, prompt hash, example id and decoding
settings, which include the metric's identity and the label scoring), so a repeated or resumed
candidate costs no model calls. Scores come from the task's metric object (data/metrics.py;
a judge from evaluate/judge.py), and the evaluation's score is the metric's aggregate.
The prompt hash is that of the template the example is actually scored with: a prompt whose
demonstrations differ per example (render/dynamic.py) is cached per example, never under one
hash for different texts.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.data.metrics import Metric
from promptsearch.evaluate import labels as labels_mod
from promptsearch.evaluate.judge import metric_for
from promptsearch.lm.base import LM
from promptsearch.render.prompt import Prompt, PromptStrategy, PromptTemplate
from promptsearch.strategies import DIRECT, Decoding, Strategy, Trace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExampleResult:
    example_id: str
    prediction: str
    score: float  # the metric's value for this example, in [0, 1]
    feedback: str | None = None  # the metric's explanation of a lost point, if it gives one
    # label tasks scored by first-token or generate: the answer named no label (None: not applicable)
    unparsed: bool | None = None


@dataclass
class Evaluation:
    score: float  # the metric's aggregate over examples (the mean unless it says otherwise)
    results: list[ExampleResult]
    computed: int = 0  # examples that needed the model (not cached)
    seconds: float = 0.0


class EvalCache(Protocol):
    def get(self, model: str, prompt_hash: str, decoding: str,
            example_ids: Sequence[str]) -> dict[str, ExampleResult]: ...

    def put(self, model: str, prompt_hash: str, decoding: str,
            results: Sequence[ExampleResult]) -> None: ...


def decoding_for_settings(max_new_tokens: int, label_scoring: str) -> Decoding:
    """From a search's settings: label_scoring as stored (sum, mean, first-token, generate)."""
    return Decoding(max_new_tokens=max_new_tokens, length_normalize=label_scoring == "mean",
                    label_mode=labels_mod.mode_of(label_scoring))


def decoding_key(decoding: Decoding, task: TaskSpec, strategy: PromptStrategy = DIRECT,
                 metric: str | None = None) -> str:
    """The evaluation cache key's decoding part (with the strategy's own settings): stored with
    every cached result, so a change here loses the cache (tests/evaluate/test_labels.py pins it).
    `metric`: the metric's identity (Evaluator.key passes it; the task's name otherwise)."""
    metric = metric or task.metric
    if task.labels is not None:  # a label task
        labels = hashlib.sha256("\x1f".join(task.labels).encode()).hexdigest()[:12]
        if decoding.label_mode == "first-token":
            base = f"first-token:{labels_mod.TOP_LOGPROBS}:{labels}:{metric}"
        elif decoding.label_mode == "generate":
            base = f"generate:{labels_mod.ANSWER_TOKENS}:{labels}:{metric}"
        else:
            base = f"rank:{'mean' if decoding.length_normalize else 'sum'}:{labels}:{metric}"
    else:
        base = f"greedy:{decoding.max_new_tokens}:nl:{metric}"
    own = strategy.hash_key()
    return base if own is None else f"{own}|{base}"


def with_label_scorer(decoding: Decoding) -> Decoding:
    """`decoding` with the label scorer its mode needs (none under loglikelihood): the strategies
    run with this."""
    scorer = None if decoding.label_mode == "loglikelihood" else labels_mod.LabelScorer(decoding.label_mode)
    return dataclasses.replace(decoding, label_scorer=scorer)


@dataclass
class Evaluator:
    lm: LM
    task: TaskSpec
    cache: EvalCache | None = None
    decoding: Decoding = field(default_factory=Decoding)
    # default: the task's metric, set by __post_init__ (a judge's model is loaded once per process)
    metric: Metric = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.metric is None:
            self.metric = metric_for(self.task, self.lm)

    def key(self, strategy: PromptStrategy = DIRECT) -> str:
        """The cache key's decoding part: how answers are obtained and how they are scored."""
        return decoding_key(self.decoding, self.task, strategy, self.metric.identity)

    def evaluate(self, prompt: Prompt, examples: Sequence[Example]) -> Evaluation:
        """Score `prompt` (a PromptTemplate, or a DynamicPrompt with per-example templates) on
        `examples`, with the strategy it carries."""
        start = time.perf_counter()
        templates = prompt.per_example(examples)
        key = self.key(prompt.strategy)
        cached = self._cached(templates, examples, key)
        todo = [(t, e) for t, e in zip(templates, examples) if e.id not in cached]
        fresh = self._compute(prompt.strategy, todo) if todo else []
        if self.cache and fresh:
            by_hash: dict[str, list[ExampleResult]] = defaultdict(list)
            for (t, _), r in zip(todo, fresh):
                by_hash[t.hash].append(r)
            for h, results in by_hash.items():
                self.cache.put(self.lm.fingerprint, h, key, results)
        by_id = {**cached, **{r.example_id: r for r in fresh}}
        results = self._marked([by_id[e.id] for e in examples])
        score = self.metric.aggregate([r.score for r in results]) if results else 0.0
        seconds = time.perf_counter() - start
        log.debug("prompt %s (%s): %d examples (%d computed) in %.2fs, score %.4f", prompt.hash[:8],
                  prompt.strategy.name, len(examples), len(todo), seconds, score)
        return Evaluation(score, results, computed=len(todo), seconds=seconds)

    def evaluate_many(self, prompts: Sequence[Prompt], examples: Sequence[Example]) -> list[Evaluation]:
        """`evaluate` for several prompts on the same examples (--parallel-candidates): the
        uncached (template, example) pairs of every prompt go to the model together, one
        `strategy.run` per distinct strategy, so each LM stage is one call of
        len(prompts) x len(examples) requests and HFLM shares each prompt's prefix within it.
        A pair two prompts have in common (same template hash) is computed once and counted
        for the first. Each Evaluation gets the batch's seconds in proportion to its computed pairs."""
        start = time.perf_counter()
        plans, todo = [], {}  # todo: (decoding key, template hash, example id) -> (strategy, template, example)
        for prompt in prompts:
            templates, key = prompt.per_example(examples), self.key(prompt.strategy)
            cached = self._cached(templates, examples, key)
            n = 0
            for t, e in zip(templates, examples):
                w = (key, t.hash, e.id)
                if e.id not in cached and w not in todo:
                    todo[w], n = (prompt.strategy, t, e), n + 1
            plans.append((templates, key, cached, n))
        fresh = self._compute_many(todo)
        seconds = time.perf_counter() - start
        computed_total = sum(n for *_, n in plans) or 1
        out = []
        for templates, key, cached, n in plans:
            results = self._marked([cached[e.id] if e.id in cached else fresh[(key, t.hash, e.id)]
                                    for t, e in zip(templates, examples)])
            score = self.metric.aggregate([r.score for r in results]) if results else 0.0
            out.append(Evaluation(score, results, computed=n, seconds=seconds * n / computed_total))
        log.debug("%d prompts x %d examples (%d computed) in %.2fs", len(prompts), len(examples), len(todo), seconds)
        return out

    def _compute_many(self, todo: dict[tuple[str, str, str], tuple[PromptStrategy, PromptTemplate, Example]]
                      ) -> dict[tuple[str, str, str], ExampleResult]:
        """Run the pairs of each decoding key (one strategy) in one batch and cache the results."""
        by_key: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for w in todo:
            by_key[w[0]].append(w)
        fresh: dict[tuple[str, str, str], ExampleResult] = {}
        for key, work in by_key.items():
            strategy = todo[work[0]][0]
            results = self._compute(strategy, [todo[w][1:] for w in work])
            by_hash: dict[str, list[ExampleResult]] = defaultdict(list)
            for w, r in zip(work, results):
                fresh[w] = r
                by_hash[w[1]].append(r)
            if self.cache:
                for h, rs in by_hash.items():
                    self.cache.put(self.lm.fingerprint, h, key, rs)
        return fresh

    def traces(self, prompt: Prompt, examples: Sequence[Example]) -> list[Trace]:
        """Run the prompt's strategy on every example, uncached, keeping the reasoning it wrote
        (for bootstrapped demonstrations)."""
        return self._run(prompt.strategy, list(zip(prompt.per_example(examples), examples)))

    def _marked(self, results: list[ExampleResult]) -> list[ExampleResult]:
        """Results of a label task read by first-token or generate, each marked parsed or not
        (cached results carry only the prediction, so it is worked out here)."""
        labels = self.task.labels
        if labels is None or self.decoding.label_mode == "loglikelihood":
            return results
        return [dataclasses.replace(r, unparsed=labels_mod.unparsed(r.prediction, labels)) for r in results]

    def _cached(self, templates: Sequence[PromptTemplate], examples: Sequence[Example],
                key: str) -> dict[str, ExampleResult]:
        if not self.cache:
            return {}
        ids: dict[str, list[str]] = defaultdict(list)  # one lookup per distinct template
        for t, e in zip(templates, examples):
            ids[t.hash].append(e.id)
        out: dict[str, ExampleResult] = {}
        for h, wanted in ids.items():
            out.update(self.cache.get(self.lm.fingerprint, h, key, wanted))
        return out

    def _run(self, strategy: PromptStrategy, items: list[tuple[PromptTemplate, Example]]) -> list[Trace]:
        return run_strategy(self.lm, self.task, strategy, items, self.decoding)

    def _compute(self, strategy: PromptStrategy, items: list[tuple[PromptTemplate, Example]]) -> list[ExampleResult]:
        traces = self._run(strategy, items)
        examples = [e for _, e in items]
        scored = self.metric.score_many([tr.prediction for tr in traces], examples)
        return [ExampleResult(e.id, tr.prediction, s.value, s.feedback)
                for e, tr, s in zip(examples, traces, scored)]


def run_strategy(lm: LM, task: TaskSpec, strategy: PromptStrategy, items: list[tuple[PromptTemplate, Example]],
                 decoding: Decoding) -> list[Trace]:
    """How every answer is obtained, scored or not (the evaluator; `promptsearch run`): the
    strategy the prompt carries, with the search's decoding options."""
    if not isinstance(strategy, Strategy):  # render accepts any layout; running needs a Strategy
        raise TypeError(f"{strategy!r} is not a promptsearch.strategies.Strategy")
    return strategy.run(lm, task, items, with_label_scorer(decoding)) if items else []
