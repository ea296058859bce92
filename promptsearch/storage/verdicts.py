"""Held-out results stored with their search (table `ps_verdicts`): each `promptsearch eval` is a
row of kind 'verdict'; other kinds of held-out result are kept apart by `kind`."""
from __future__ import annotations

from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from promptsearch.storage.models import VerdictRow
from promptsearch.storage.retry import Sessions


class Verdicts:
    def __init__(self, db: Sessions):
        self.db = db

    def save(self, search_id: int, **fields: Any) -> int:
        """Store one result (VerdictRow fields); returns its id."""
        def add(s: Session) -> int:
            row = VerdictRow(search_id=search_id, **fields)
            s.add(row)
            s.flush()
            return row.id
        return self.db.write(add)

    def latest(self, search_id: int, kind: str = "verdict") -> VerdictRow | None:
        query = sa.select(VerdictRow).where(VerdictRow.search_id == search_id, VerdictRow.kind == kind) \
            .order_by(VerdictRow.id.desc())
        row = self.db.read(lambda s: s.scalars(query).first())
        if row is not None and row.created.tzinfo is None:  # SQLite drops the zone
            row.created = row.created.replace(tzinfo=UTC)
        return row
