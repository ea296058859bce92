"""Rendered candidates (table `ps_candidates`): stored once per search and prompt hash, before
the candidate is scored, so every trial's prompt can be read back exactly."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from promptsearch.storage.models import CandidateRow
from promptsearch.storage.retry import Sessions


class Candidates:
    def __init__(self, db: Sessions):
        self.db = db

    def save(self, search_id: int, **fields: Any) -> None:
        """Store a rendered candidate once (a repeat of the same prompt hash is a no-op)."""
        self.db.insert_ignoring_duplicates(CandidateRow, [{"search_id": search_id, **fields}])

    def get(self, search_id: int, prompt_hash: str) -> CandidateRow | None:
        query = sa.select(CandidateRow).where(CandidateRow.search_id == search_id,
                                              CandidateRow.prompt_hash == prompt_hash)
        return self.db.read(lambda s: s.scalars(query).first())

    def of_search(self, search_id: int) -> list[CandidateRow]:
        query = sa.select(CandidateRow).where(CandidateRow.search_id == search_id).order_by(CandidateRow.id)
        return self.db.read(lambda s: list(s.scalars(query)))
