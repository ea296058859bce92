"""A lock per search, held across processes while a worker claims a trial slot.

Claiming is "count the search's trials, and if the target is not reached, create one": two
workers must not both count 39 of 40 and both create. SQLite has a single writer, so holding a
database lock while Optuna writes through its own connection would deadlock; a file lock next to
the database does the job (SQLite files are only shared by processes on one machine anyway).
Server databases take a row lock on the search's row, on a connection of their own: a killed
worker's lock goes with its connection.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


@contextmanager
def search_lock(engine: Engine, search_id: int) -> Iterator[None]:
    if engine.dialect.name == "sqlite":
        db = engine.url.database
        if not db or db == ":memory:" or fcntl is None:
            yield  # one process owns an in-memory database
            return
        with _file_lock(Path(f"{db}.lock")):
            yield
        return
    # NO KEY UPDATE: excludes other claimers, but not the key-share lock that inserting a row
    # referring to the search takes (e.g. its trial's owner, written while this lock is held)
    mode = "NO KEY UPDATE" if engine.dialect.name == "postgresql" else "UPDATE"
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text(f"SELECT id FROM ps_searches WHERE id = :id FOR {mode}"), {"id": search_id})
        yield


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # released by the kernel if this process dies
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
