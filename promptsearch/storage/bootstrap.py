"""Bootstrapped demonstrations (table `ps_bootstrap_demos`): what the model wrote on a train
example, whether it got it right, and where it came from.

A row is keyed by (model, source_key, example_id); `source_key` hashes everything that made the
rationale (the prompt, its strategy, the task's metric), so a resumed search, or another search
of the same task, model and bootstrap settings, reads the rows instead of running the model
again. Wrong answers are stored too: they are not retried either.

Declared on the same `Base` as models.py. Until a migration adds it, `ensure_table` creates it
on first use (as storage/verdicts.py does).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from promptsearch.storage.models import Base, utcnow
from promptsearch.storage.store import Store


class BootstrapDemoRow(Base):
    __tablename__ = "ps_bootstrap_demos"
    __table_args__ = (UniqueConstraint("model", "source_key", "example_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(500))  # the LM's name (weights + precision)
    source_key: Mapped[str] = mapped_column(String(64), index=True)  # hash of how it was made
    example_id: Mapped[str] = mapped_column(String(64))  # the train example
    # provenance: the search that ran it (NULL once that search is deleted), the strategy's key,
    # and the prompt (hash and text with {field} placeholders) the model answered
    search_id: Mapped[int | None] = mapped_column(ForeignKey("ps_searches.id", ondelete="SET NULL"),
                                                  nullable=True)
    strategy: Mapped[str] = mapped_column(String(200))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)  # the reasoning the model wrote
    prediction: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class BootstrapDemo:
    example_id: str
    rationale: str
    prediction: str
    correct: bool
    search_id: int | None
    strategy: str
    prompt_hash: str


def ensure_table(store: Store) -> None:
    """Create `ps_bootstrap_demos` if this database predates it (a no-op otherwise)."""
    Base.metadata.create_all(store.engine, tables=[BootstrapDemoRow.__table__])


def load_demos(store: Store, model: str, source_key: str) -> dict[str, BootstrapDemo]:
    """Every stored attempt for this model and source, by example id."""
    ensure_table(store)
    with store.session() as s:
        rows = s.scalars(sa.select(BootstrapDemoRow).where(
            BootstrapDemoRow.model == model, BootstrapDemoRow.source_key == source_key))
        return {r.example_id: BootstrapDemo(r.example_id, r.rationale, r.prediction, r.correct,
                                            r.search_id, r.strategy, r.prompt_hash) for r in rows}


def save_demos(store: Store, model: str, source_key: str, prompt: str,
               demos: Sequence[BootstrapDemo]) -> None:
    """Insert in one transaction; rows another worker stored meanwhile are kept, not duplicated."""
    ensure_table(store)
    for _ in range(3):  # a concurrent insert of the same example: reread and insert the rest
        known = load_demos(store, model, source_key)
        rows = [BootstrapDemoRow(model=model, source_key=source_key, example_id=d.example_id,
                                 search_id=d.search_id, strategy=d.strategy, prompt_hash=d.prompt_hash,
                                 prompt=prompt, rationale=d.rationale, prediction=d.prediction,
                                 correct=d.correct)
                for d in demos if d.example_id not in known]
        if not rows:
            return
        try:
            with store.session() as s, s.begin():
                s.add_all(rows)
            return
        except IntegrityError:
            continue
    raise RuntimeError("could not store bootstrapped demonstrations: concurrent writers kept colliding")


def count_demos(store: Store) -> int:
    ensure_table(store)
    with store.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(BootstrapDemoRow)) or 0
