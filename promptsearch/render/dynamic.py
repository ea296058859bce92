"""Prompts whose demonstrations depend on the input: the k nearest train examples of each one.

Every example then gets its own prompt. The evaluation cache is keyed by each example's own
template hash (evaluator.py), so a cached result is only ever served for exactly the prompt it
was computed with, whatever happens to the pool, the embedding model or float rounding. The
candidate as a whole (its row, its leaderboard entry) is identified by `DynamicPrompt.hash`: the
demo-less template's hash plus how the neighbours are chosen and from which pool.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example
from promptsearch.render.demos import RATIONALE, nearest_indices
from promptsearch.render.prompt import Candidate, ChatFormat, PromptStrategy, PromptTemplate, render_template

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> [n, d] unit rows


def query_text(example: Example, inputs: Sequence[str]) -> str:
    """What is embedded for an example: its input fields, one per line."""
    return "\n".join(example[name] for name in inputs)


@dataclass(frozen=True, kw_only=True)
class NearestDemos:
    """k nearest pool examples of each input, by the cosine similarity of `embed` vectors."""

    pool: tuple[Example, ...]
    vectors: np.ndarray = field(compare=False, repr=False)  # [len(pool), d], unit rows
    embed: Embed = field(compare=False, repr=False)
    embedder: str  # the embedding model's name: part of the key
    k: int
    order: str = "drawn"

    def key(self) -> str:
        pool = [[e.id, e.fields.get(RATIONALE, "")] for e in self.pool]
        blob = json.dumps([self.embedder, self.k, self.order, pool], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def pick(self, examples: Sequence[Example], inputs: Sequence[str]) -> list[tuple[Example, ...]]:
        """The demos of each example, in prompt order (one batched embedding call)."""
        if not examples:
            return []
        queries = self.embed([query_text(e, inputs) for e in examples])  # [n, d]
        index = {e.id: i for i, e in enumerate(self.pool)}
        return [tuple(self.pool[i] for i in nearest_indices(
                    self.vectors, q, self.k, self.order,
                    exclude=[index[e.id]] if e.id in index else []))  # never the input itself
                for e, q in zip(examples, queries)]


@dataclass(frozen=True)
class DynamicPrompt:
    """A `Prompt` (prompt.py) whose `per_example` gives each example its own template."""

    candidate: Candidate  # demos empty; `nearest` set
    task: TaskSpec
    base: PromptTemplate  # the candidate rendered without demos
    chat_format: ChatFormat | None = field(default=None, compare=False, repr=False)
    _memo: dict[str, PromptTemplate] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, candidate: Candidate, task: TaskSpec, chat_format: ChatFormat | None) -> DynamicPrompt:
        bare = replace(candidate, demos=(), nearest=None)
        return cls(candidate, task, render_template(bare, task, chat_format), chat_format)

    @property
    def nearest(self) -> NearestDemos:
        return self.candidate.nearest

    @property
    def hash(self) -> str:
        blob = f"nearest:{self.base.hash}:{self.nearest.key()}"
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    @property
    def answer_prefix(self) -> str:
        return self.base.answer_prefix

    @property
    def fields(self) -> tuple[str, ...]:
        return self.base.fields

    @property
    def strategy(self) -> PromptStrategy:
        return self.base.strategy

    def with_placeholders(self) -> str:
        """For display and storage: a note on how the demos are chosen, then the demo-less prompt."""
        n = self.nearest
        order = "most similar last" if n.order == "similar_last" else "most similar first"
        note = (f"[demonstrations: the {n.k} of {len(n.pool)} pool examples nearest to the input "
                f"({n.embedder} embeddings), {order}]")
        return f"{note}\n\n{self.base.with_placeholders()}"

    def per_example(self, examples: Sequence[Example]) -> list[PromptTemplate]:
        todo = [e for e in examples if e.id not in self._memo]
        for e, demos in zip(todo, self.nearest.pick(todo, self.task.inputs)):
            self._memo[e.id] = render_template(replace(self.candidate, demos=demos, nearest=None), self.task,
                                               self.chat_format)
        return [self._memo[e.id] for e in examples]
