"""Where a trial's demonstrations come from: the train split, demos with rationales (from the
data, or bootstrapped), and the embeddings that nearest-neighbour selection needs.

Bootstrapping is DSPy BootstrapFewShot's idea: run the model with a reasoning strategy on train
examples, keep the ones it answers correctly together with the reasoning it wrote, and offer
those as chain-of-thought demonstrations. The attempts are stored (storage/bootstrap.py), so a
resumed search reads them back instead of running the model again.

Everything here is computed lazily, once per run, the first time a trial needs it.
"""
from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from promptsearch.config.space import SpaceSpec
from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import Example, example_id, load_split
from promptsearch.evaluate.evaluator import Evaluator
from promptsearch.lm.base import LM
from promptsearch.lm.embed import Embedder, load_embedder
from promptsearch.render.demos import RATIONALE
from promptsearch.render.dynamic import NearestDemos, query_text
from promptsearch.render.prompt import Candidate, PromptTemplate, render_template
from promptsearch.storage.bootstrap import BootstrapDemo
from promptsearch.storage.store import Store
from promptsearch.strategies import STRATEGIES, Strategy

log = logging.getLogger(__name__)


def with_rationale(example: Example, rationale: str) -> Example:
    """The example as a demo carrying a rationale (same id: it is the same train example)."""
    return Example(example.id, {**example.fields, RATIONALE: rationale})


def data_rationales(task: TaskSpec) -> dict[str, str]:
    """The task's rationale field of each train example, by example id (ids as load_split makes
    them, from the input and output fields only)."""
    rationale = task.rationale
    if rationale is None:
        return {}  # the task has no rationale field
    wider = replace(task, inputs=(*task.inputs, rationale))
    out = {}
    for ex in load_split(wider, "train"):
        fields = {k: v for k, v in ex.fields.items() if k != rationale}
        out[example_id(fields)] = ex[rationale]
    return out


class DemoSource:
    """The pools a search run draws demonstrations from."""

    def __init__(self, store: Store | None, search_id: int | None, lm: LM, task: TaskSpec,
                 space: SpaceSpec, train: Sequence[Example], evaluator: Evaluator):
        self.store, self.search_id, self.lm = store, search_id, lm
        self.task, self.space, self.train = task, space, list(train)
        self.evaluator = evaluator
        self._rationale_pool: list[Example] | None = None
        self.rationale_source = "data" if task.rationale else "bootstrap"
        self._embedder: Embedder | None = None
        self._vectors: dict[str, np.ndarray] = {}  # pool name -> [n, d]

    # --------------------------------------------------------------------- pools

    def pool(self, strategy: Strategy) -> list[Example]:
        """Demos for a strategy: rationale demos for one that shows reasoning, train examples otherwise."""
        return self.rationale_pool() if strategy.rationale_demos else self.train

    def rationale_pool(self) -> list[Example]:
        if self._rationale_pool is None:
            self._rationale_pool = self._from_data() if self.task.rationale else self._bootstrapped()
            log.info("%d chain-of-thought demonstrations available (%s)", len(self._rationale_pool),
                     self.rationale_source)
        return self._rationale_pool

    def _from_data(self) -> list[Example]:
        found = data_rationales(self.task)
        return [with_rationale(e, found[e.id]) for e in self.train if found.get(e.id, "").strip()]

    # --------------------------------------------------------------------- bootstrapping

    def bootstrap_prompt(self) -> PromptTemplate:
        """The prompt bootstrapping answers train examples with: the space's first instruction,
        its bootstrap trigger and strategy (`Strategy.for_bootstrap`), the plain layout, no demos."""
        s = self.space
        strategy = STRATEGIES.get(s.bootstrap_strategy, f"{s.source}: field 'bootstrap.strategy'").for_bootstrap(s)
        candidate = Candidate(instruction=s.instructions[0], cot_trigger=s.bootstrap_trigger,
                              params=strategy.to_params(), strategy=strategy)
        return render_template(candidate, self.task)

    def bootstrap_examples(self) -> list[Example]:
        """The train examples tried: a seeded sample of `bootstrap.tries` of them."""
        order = list(self.train)
        random.Random(f"bootstrap:{self.space.seed}").shuffle(order)
        return order[:self.space.bootstrap_tries]

    def source_key(self, prompt: PromptTemplate) -> str:
        blob = f"{prompt.hash}|{self.evaluator.key(prompt.strategy)}"
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]

    def _bootstrapped(self) -> list[Example]:
        prompt = self.bootstrap_prompt()
        key = self.source_key(prompt)
        tries = self.bootstrap_examples()
        known = self.store.demos.load(self.lm.fingerprint, key) if self.store else {}
        todo = [e for e in tries if e.id not in known]
        if todo:
            log.info("bootstrapping: %s on %d train examples (%d already stored)",
                     prompt.strategy.name, len(todo), len(tries) - len(todo))
            traces = self.evaluator.traces(prompt, todo)
            scored = self.evaluator.metric.score_many([t.prediction for t in traces], todo)
            fresh = [BootstrapDemo(example_id=e.id, rationale=t.rationale, prediction=t.prediction,
                                   correct=s.value >= 1.0, search_id=self.search_id, strategy=prompt.strategy.key(),
                                   prompt_hash=prompt.hash)
                     for e, t, s in zip(todo, traces, scored)]
            if self.store:
                self.store.demos.save(self.lm.fingerprint, key, prompt.with_placeholders(), fresh)
            known = {**known, **{d.example_id: d for d in fresh}}
        kept = [with_rationale(e, known[e.id].rationale) for e in tries
                if known[e.id].correct and known[e.id].rationale.strip()]
        if not kept:
            log.warning("bootstrapping found no correctly answered train example in %d tries; "
                        "chain-of-thought candidates get no demonstrations", len(tries))
        return kept

    # --------------------------------------------------------------------- nearest neighbours

    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.space.embedding, self.lm)
        return self._embedder

    def nearest(self, strategy: Strategy, k: int, order: str) -> NearestDemos:
        pool = self.pool(strategy)
        name = "rationales" if strategy.rationale_demos else "train"
        if name not in self._vectors:
            self._vectors[name] = self.embedder()([query_text(e, self.task.inputs) for e in pool])
        emb = self.embedder()
        return NearestDemos(pool=tuple(pool), vectors=self._vectors[name], embed=emb, embedder=emb.name, k=k,
                            order=order)
