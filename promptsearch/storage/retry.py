"""One way into the database for every repository: sessions, retried while the database is busy,
with the environment's faults (a full disk, a read-only file) turned into one-line user errors.

SQLite's busy timeout makes a writer wait for the lock, but not always: a transaction that read
first and then writes gets "database is locked" at once when another process wrote meanwhile
(waiting could deadlock). PostgreSQL reports deadlocks and serialization failures the same way.
The transaction was rolled back, so running it again is safe.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import optuna
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from promptsearch.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 10
_BUSY = ("database is locked", "database table is locked", "deadlock detected",
         "could not serialize access", "lock timeout")
_FULL = ("database or disk is full", "no space left on device", "could not extend file")
_IO = {"disk i/o error": "disk I/O error", "database disk image is malformed": "database disk image is malformed",
       "input/output error": "Input/output error"}  # as found in lower-cased messages -> as shown
_READ_ONLY = ("attempt to write a readonly database", "read-only file system", "read-only transaction")
DB_ERRORS = (OperationalError, DBAPIError, optuna.exceptions.StorageInternalError)


class DiskFullError(UserError):
    """The disk under the database is full: nothing was half-written, the user must free space."""


class DiskIOError(UserError):
    """The disk under the database failed a read or write (SQLITE_IOERR, a corrupt page): the
    transaction was rolled back; what was committed before is kept."""


class ReadOnlyError(UserError):
    """The database cannot be written (file permissions, a read-only file system or server)."""


def _messages(e: BaseException | None) -> str:
    """Every message in the exception's chain (Optuna wraps the driver's error twice)."""
    seen, parts = set(), []
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts.append(str(e).lower())
        e = e.__cause__ or e.__context__
    return " | ".join(parts)


def is_busy(e: BaseException) -> bool:
    return isinstance(e, DB_ERRORS) and any(m in _messages(e) for m in _BUSY)


def is_disk_full(e: BaseException) -> bool:
    return any(m in _messages(e) for m in _FULL)


def disk_full(shown_url: str) -> DiskFullError:
    return DiskFullError(f"database {shown_url}: the disk is full, so nothing more was written; free "
                         "some space and run the command again (completed trials are kept)")


def read_only(shown_url: str, why: str = "it cannot be written") -> ReadOnlyError:
    return ReadOnlyError(f"database {shown_url} is read-only ({why}); make it writable, or copy it somewhere "
                         "writable and pass that --db (reading commands such as show and export work as it is)")


def environment_error(e: BaseException, shown_url: str) -> UserError | None:
    """The one-line error for a database fault of the environment, or None if `e` is not one."""
    if not isinstance(e, DB_ERRORS):
        return None
    if is_disk_full(e):
        return disk_full(shown_url)
    if any(m in _messages(e) for m in _READ_ONLY):
        return read_only(shown_url)
    found = next((m for m in _IO if m in _messages(e)), None)
    if found is not None:
        return DiskIOError(f"database {shown_url}: the disk failed ({_IO[found]}), so the last change was not "
                           f"written; check the disk (or copy the database elsewhere) and run the command "
                           f"again (completed trials are kept)")
    return None


def retrying(fn: Callable[..., T], shown_url: str) -> Callable[..., T]:
    """`fn`, run again with a short random backoff while the database is busy; a full disk or a
    read-only database becomes a one-line user error."""
    def run(*args: Any, **kwargs: Any) -> T:
        for attempt in range(ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except DB_ERRORS as e:
                known = environment_error(e, shown_url)
                if known is not None:
                    raise known from None
                if not is_busy(e) or attempt == ATTEMPTS - 1:
                    raise
                delay = min(2.0, 0.02 * 2 ** attempt) * (0.5 + random.random())
                log.debug("database busy (%s); retrying in %.2fs", getattr(fn, "__name__", "call"), delay)
                time.sleep(delay)
        raise AssertionError("unreachable")
    return run


class Sessions:
    """The sessions of one database, shared by every repository of a Store.

    `read(fn)` and `write(fn)` call `fn(session)` and return what it returns; a write is one
    transaction. Both are retried while the database is busy, so `fn` must only touch the
    session (it may run more than once). Rows come back detached but loaded."""

    def __init__(self, engine: Engine, shown_url: str, *, read_only: bool = False):
        self.engine, self.shown_url, self.read_only = engine, shown_url, read_only
        self._maker = sessionmaker(engine, expire_on_commit=False)

    def read(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with self._maker() as s:
                return fn(s)
        return retrying(run, self.shown_url)()

    def write(self, fn: Callable[[Session], T]) -> T:
        if self.read_only:
            raise RuntimeError(f"database {self.shown_url} was opened read-only")  # a bug, not the user's
        def run() -> T:
            with self._maker() as s, s.begin():
                return fn(s)
        return retrying(run, self.shown_url)()

    def insert_ignoring_duplicates(self, model: type, rows: Sequence[dict]) -> None:
        """INSERT … ON CONFLICT DO NOTHING, in one transaction: two workers storing the same rows
        at once both succeed and the first one's rows stay."""
        if not rows:
            return
        dialect = self.engine.dialect.name

        def insert(s: Session) -> None:
            if dialect in ("sqlite", "postgresql"):
                stmt = (sqlite if dialect == "sqlite" else postgresql).insert(model)
                s.execute(stmt.on_conflict_do_nothing(), list(rows))
                return
            for row in rows:  # other databases: one savepoint per row
                try:
                    with s.begin_nested():
                        s.add(model(**row))
                except IntegrityError:
                    pass
        self.write(insert)
