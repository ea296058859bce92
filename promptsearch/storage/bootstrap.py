"""Bootstrapped demonstrations (table `ps_bootstrap_demos`): what the model wrote on a train
example, whether it got it right, and where it came from.

A row is keyed by (model, source_key, example_id); `source_key` hashes everything that made the
rationale (the prompt, its strategy, the task's metric), so a resumed search, or another search
of the same task, model and bootstrap settings, reads the rows instead of running the model
again. Wrong answers are stored too: they are not retried either.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from promptsearch.storage.models import BootstrapDemoRow
from promptsearch.storage.retry import Sessions


@dataclass(frozen=True, kw_only=True)
class BootstrapDemo:
    example_id: str
    rationale: str
    prediction: str
    correct: bool
    search_id: int | None
    strategy: str
    prompt_hash: str


class BootstrapDemos:
    def __init__(self, db: Sessions):
        self.db = db

    def load(self, model: str, source_key: str) -> dict[str, BootstrapDemo]:
        """Every stored attempt for this model and source, by example id."""
        query = sa.select(BootstrapDemoRow).where(BootstrapDemoRow.model == model,
                                                  BootstrapDemoRow.source_key == source_key)
        rows = self.db.read(lambda s: list(s.scalars(query)))
        return {r.example_id: BootstrapDemo(example_id=r.example_id, rationale=r.rationale, prediction=r.prediction,
                                            correct=r.correct, search_id=r.search_id, strategy=r.strategy,
                                            prompt_hash=r.prompt_hash) for r in rows}

    def save(self, model: str, source_key: str, prompt: str, demos: Sequence[BootstrapDemo]) -> None:
        """Insert in one transaction; rows another worker stored meanwhile are kept, not duplicated."""
        self.db.insert_ignoring_duplicates(BootstrapDemoRow, [
            {"model": model, "source_key": source_key, "example_id": d.example_id, "search_id": d.search_id,
             "strategy": d.strategy, "prompt_hash": d.prompt_hash, "prompt": prompt, "rationale": d.rationale,
             "prediction": d.prediction, "correct": d.correct}
            for d in demos])

    def count(self) -> int:
        return self.db.read(lambda s: s.scalar(sa.select(sa.func.count()).select_from(BootstrapDemoRow))) or 0
