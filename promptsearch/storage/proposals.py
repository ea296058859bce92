"""Proposed instructions with their provenance (tables `ps_proposals`, `ps_proposal_rounds`).

A round's proposals from one method are written in one transaction with the round's row, so a
search killed mid-round resumes with every stored proposal and re-asks only the methods that had
not finished.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from promptsearch.storage.models import ProposalRoundRow, ProposalRow
from promptsearch.storage.retry import Sessions


class Proposals:
    def __init__(self, db: Sessions):
        self.db = db

    def pool(self, search_id: int) -> list[ProposalRow]:
        """Accepted proposals in pool order."""
        query = sa.select(ProposalRow).where(ProposalRow.search_id == search_id, ProposalRow.accepted.is_(True)) \
            .order_by(ProposalRow.pool_index)
        return self.db.read(lambda s: list(s.scalars(query)))

    def all(self, search_id: int) -> list[ProposalRow]:
        query = sa.select(ProposalRow).where(ProposalRow.search_id == search_id).order_by(ProposalRow.id)
        return self.db.read(lambda s: list(s.scalars(query)))

    def done_parts(self, search_id: int) -> set[tuple[int, str]]:
        """(round, method) of every part already stored."""
        query = sa.select(ProposalRoundRow.round, ProposalRoundRow.method).where(
            ProposalRoundRow.search_id == search_id)
        return self.db.read(lambda s: {(r.round, r.method) for r in s.execute(query)})

    def add_part(self, search_id: int, round: int, method: str, finished_trials: int, outcome: str,
                 proposals: Sequence[dict[str, Any]]) -> None:
        """One method's proposals (ProposalRow fields besides search, round and method) and its
        round row, in one transaction."""
        def add(s: Session) -> None:
            s.add_all([ProposalRow(search_id=search_id, round=round, method=method, **p) for p in proposals])
            s.add(ProposalRoundRow(search_id=search_id, round=round, method=method,
                                   finished_trials=finished_trials, outcome=outcome))
        self.db.write(add)

    def not_enqueued(self, search_id: int) -> list[ProposalRow]:
        """Accepted proposals that have no queued trial yet."""
        return [r for r in self.all(search_id) if r.accepted and not r.enqueued]

    def mark_enqueued(self, ids: Sequence[int]) -> None:
        if ids:
            self.db.write(lambda s: s.execute(sa.update(ProposalRow).where(ProposalRow.id.in_(list(ids)))
                                              .values(enqueued=True)))
