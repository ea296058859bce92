"""Held-out verdicts, stored with their search (table `ps_verdicts`, beside the other `ps_` tables).

The table is declared on the same `Base` as models.py, so `Base.metadata.create_all` creates it;
databases made before it existed get it from `ensure_table` on first use.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from promptsearch.storage.models import Base, utcnow
from promptsearch.storage.store import Store


class VerdictRow(Base):
    """One `promptsearch eval`: the best prompt against a baseline on a held-out split."""

    __tablename__ = "ps_verdicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("ps_searches.id", ondelete="CASCADE"), index=True)
    split: Mapped[str] = mapped_column(String(16))
    examples: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(500))  # the LM's name (weights + precision)
    baseline: Mapped[str] = mapped_column(String(1000))  # "first" or the prompt file it came from
    best_hash: Mapped[str] = mapped_column(String(64))
    baseline_hash: Mapped[str] = mapped_column(String(64))
    best_score: Mapped[float] = mapped_column(Float)
    baseline_score: Mapped[float] = mapped_column(Float)
    difference: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    test: Mapped[str] = mapped_column(String(100))  # which paired test gave the p-value
    warning: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict] = mapped_column(JSON)  # everything, per-example scores included
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def ensure_table(store: Store) -> None:
    """Create `ps_verdicts` if this database predates it (a no-op otherwise)."""
    Base.metadata.create_all(store.engine, tables=[VerdictRow.__table__])


def save_verdict(store: Store, search_id: int, **fields: Any) -> int:
    ensure_table(store)
    with store.session() as s, s.begin():
        row = VerdictRow(search_id=search_id, **fields)
        s.add(row)
        s.flush()
        return row.id


def latest_verdict(store: Store, search_id: int) -> VerdictRow | None:
    ensure_table(store)
    with store.session() as s:
        row = s.scalars(sa.select(VerdictRow).where(VerdictRow.search_id == search_id)
                        .order_by(VerdictRow.id.desc())).first()
    if row is not None and row.created.tzinfo is None:  # SQLite drops the zone
        row.created = row.created.replace(tzinfo=timezone.utc)
    return row
