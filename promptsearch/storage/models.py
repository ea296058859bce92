"""The project's own tables, beside Optuna's in the same database (all prefixed `ps_`).

Changing a table needs a migration: see promptsearch/storage/schema.py.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 3  # ps_meta's schema_version; the migration revision is schema.HEAD


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class SearchRow(Base):
    """A named search: everything `resume` needs to continue without the user repeating it."""

    __tablename__ = "ps_searches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    study_name: Mapped[str] = mapped_column(String(300))
    task: Mapped[dict] = mapped_column(JSON)  # TaskSpec.to_dict()
    space: Mapped[dict] = mapped_column(JSON)  # SpaceSpec.to_dict()
    model: Mapped[str] = mapped_column(String(500))  # what --model said ("smollm2" by default)
    settings: Mapped[dict] = mapped_column(JSON)  # seed, dev_limit, batch_size, sampler, ...
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # finished trials the search aims at, shared by its workers (NULL: none set yet)
    target_trials: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CandidateRow(Base):
    """A rendered prompt, stored once per search and prompt hash."""

    __tablename__ = "ps_candidates"
    __table_args__ = (UniqueConstraint("search_id", "prompt_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("ps_searches.id", ondelete="CASCADE"), index=True)
    prompt_hash: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(Text)  # with {field} placeholders
    answer_prefix: Mapped[str] = mapped_column(String(16))
    instruction: Mapped[str] = mapped_column(Text)
    demos: Mapped[list] = mapped_column(JSON)  # list of {field: value}
    cot_trigger: Mapped[str | None] = mapped_column(Text, nullable=True)
    template: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict] = mapped_column(JSON)  # the Optuna parameters that produced it
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvaluationRow(Base):
    """One prompt on one example: the cache that makes a repeated candidate free."""

    __tablename__ = "ps_evaluations"
    __table_args__ = (UniqueConstraint("model", "prompt_hash", "decoding", "example_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(500))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    decoding: Mapped[str] = mapped_column(String(200))
    example_id: Mapped[str] = mapped_column(String(64))
    prediction: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MetaRow(Base):
    __tablename__ = "ps_meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
