"""Proposed instructions with their provenance: method, parents, the exact prompt sent, the raw output.

A round's proposals from one method are written in one transaction, so a search killed mid-round
resumes with every stored proposal and re-asks only the methods that had not finished.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from promptsearch.storage.models import Base, utcnow


class ProposalRow(Base):
    __tablename__ = "ps_proposals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("ps_searches.id", ondelete="CASCADE"), index=True)
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


class ProposalRoundRow(Base):
    """One method's part of a round: present once its proposals are stored (even if none)."""

    __tablename__ = "ps_proposal_rounds"
    __table_args__ = (sa.UniqueConstraint("search_id", "round", "method"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("ps_searches.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    finished_trials: Mapped[int] = mapped_column(Integer)  # when the round was run
    outcome: Mapped[str] = mapped_column(String(300))  # "3 accepted, 1 rejected" or why skipped
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def ensure_tables(engine: sa.Engine) -> None:
    Base.metadata.create_all(engine, tables=[ProposalRow.__table__, ProposalRoundRow.__table__])


def pool_proposals(session, search_id: int) -> list[ProposalRow]:
    """Accepted proposals in pool order."""
    return list(session.scalars(sa.select(ProposalRow).where(
        ProposalRow.search_id == search_id, ProposalRow.accepted.is_(True)).order_by(ProposalRow.pool_index)))


def all_proposals(session, search_id: int) -> list[ProposalRow]:
    return list(session.scalars(sa.select(ProposalRow).where(ProposalRow.search_id == search_id)
                                .order_by(ProposalRow.id)))


def done_parts(session, search_id: int) -> set[tuple[int, str]]:
    rows = session.execute(sa.select(ProposalRoundRow.round, ProposalRoundRow.method).where(
        ProposalRoundRow.search_id == search_id))
    return {(r.round, r.method) for r in rows}
