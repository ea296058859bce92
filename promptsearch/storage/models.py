"""Every table of the project's own, beside Optuna's in the same database (all prefixed `ps_`).

This module only declares them: the Alembic migrations in `migrations/` are what creates and
changes them (see schema.py), and the repositories (evaluations.py, candidates.py, ...) are
what reads and writes them. Changing a table needs a migration; tests/storage/test_schema.py
fails until the migrations build exactly what is declared here.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 4  # ps_meta's schema_version; the migration revision is schema.HEAD


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def _search_id(ondelete: str = "CASCADE", nullable: bool = False) -> Mapped:
    return mapped_column(ForeignKey("ps_searches.id", ondelete=ondelete), index=not nullable,
                         nullable=nullable)


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
    search_id: Mapped[int] = _search_id()
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
    feedback: Mapped[str | None] = mapped_column(Text, nullable=True)  # the metric's why, for a lost point


class MetaRow(Base):
    __tablename__ = "ps_meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VerdictRow(Base):
    """One `promptsearch eval` (kind 'verdict'): the best prompt against a baseline on a held-out
    split. Other kinds of held-out result (e.g. probes) are stored the same way."""

    __tablename__ = "ps_verdicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = _search_id()
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
    kind: Mapped[str] = mapped_column(String(16), default="verdict", server_default="verdict")


class ProposalRow(Base):
    """A proposed instruction with its provenance: method, parents, the exact prompt sent, the raw output."""

    __tablename__ = "ps_proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = _search_id()
    round: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)  # cleaned; empty when nothing usable came back
    accepted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)  # why it was rejected
    pool_index: Mapped[int | None] = mapped_column(Integer, nullable=True)  # its index in the pool
    parents: Mapped[list] = mapped_column(JSON)  # [{"index": i, "text": ..., "score": ...}]
    prompt: Mapped[str] = mapped_column(Text)  # exactly what the proposer was sent
    raw: Mapped[str] = mapped_column(Text)  # exactly what it answered
    proposer: Mapped[str] = mapped_column(String(500))
    enqueued: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    screen_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # a quick score before enqueueing


class ProposalRoundRow(Base):
    """One method's part of a round: present once its proposals are stored (even if none)."""

    __tablename__ = "ps_proposal_rounds"
    __table_args__ = (UniqueConstraint("search_id", "round", "method"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = _search_id()
    round: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    finished_trials: Mapped[int] = mapped_column(Integer)  # when the round was run
    outcome: Mapped[str] = mapped_column(String(300))  # "3 accepted, 1 rejected" or why skipped
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BootstrapDemoRow(Base):
    """What the model wrote on a train example, whether it got it right, and where it came from.

    Keyed by (model, source_key, example_id); `source_key` hashes everything that made the
    rationale (the prompt, its strategy, the task's metric)."""

    __tablename__ = "ps_bootstrap_demos"
    __table_args__ = (UniqueConstraint("model", "source_key", "example_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(500))  # the LM's name (weights + precision)
    source_key: Mapped[str] = mapped_column(String(64), index=True)  # hash of how it was made
    example_id: Mapped[str] = mapped_column(String(64))  # the train example
    # provenance: the search that ran it (NULL once that search is deleted), the strategy's key,
    # and the prompt (hash and text with {field} placeholders) the model answered
    search_id: Mapped[int | None] = _search_id(ondelete="SET NULL", nullable=True)
    strategy: Mapped[str] = mapped_column(String(200))
    prompt_hash: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)  # the reasoning the model wrote
    prediction: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TrialOwnerRow(Base):
    """Who runs a trial of a search (written under the search lock when the trial is claimed) and
    when it last said it still does. Times are the database's clock, so machines whose clocks
    disagree still agree on how long a worker has been silent."""

    __tablename__ = "ps_trial_owners"
    search_id: Mapped[int] = mapped_column(ForeignKey("ps_searches.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # the Optuna trial number
    owner: Mapped[dict] = mapped_column(JSON)  # liveness.me(): host, machine, pid, start, thread
    heartbeat: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.current_timestamp())
    failed_stale: Mapped[bool] = mapped_column(Boolean, default=False)  # set just before it is failed as stale
    requeued: Mapped[bool] = mapped_column(Boolean, default=False)  # its point was queued again (or need not be)
