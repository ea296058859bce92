"""Database errors that are not bugs: a busy database (retry) and a full disk (tell the user).

SQLite's busy timeout makes a writer wait for the lock, but not always: a transaction that read
first and then writes gets "database is locked" at once when another process wrote meanwhile
(waiting could deadlock). PostgreSQL reports deadlocks and serialization failures the same way.
The transaction was rolled back, so running it again is safe.
"""
from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

import optuna
from sqlalchemy.exc import DBAPIError, OperationalError

from promptsearch.errors import UserError

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 10
_BUSY = ("database is locked", "database table is locked", "deadlock detected",
         "could not serialize access", "lock timeout")
_FULL = ("database or disk is full", "no space left on device", "could not extend file")


class DiskFullError(UserError):
    """The disk under the database is full: nothing was half-written, the user must free space."""


def _messages(e: BaseException) -> str:
    """Every message in the exception's chain (Optuna wraps the driver's error twice)."""
    seen, parts = set(), []
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts.append(str(e).lower())
        e = e.__cause__ or e.__context__
    return " | ".join(parts)


def is_busy(e: BaseException) -> bool:
    return isinstance(e, (OperationalError, DBAPIError, optuna.exceptions.StorageInternalError)) \
        and any(m in _messages(e) for m in _BUSY)


def is_disk_full(e: BaseException) -> bool:
    return any(m in _messages(e) for m in _FULL)


def disk_full(shown_url: str) -> DiskFullError:
    return DiskFullError(f"database {shown_url}: the disk is full, so nothing more was written; free "
                         "some space and run the command again (completed trials are kept)")


def retrying(fn: Callable[..., T], shown_url: str) -> Callable[..., T]:
    """`fn`, run again with a short random backoff while the database is busy; a full disk
    becomes a one-line user error."""
    def run(*args, **kwargs) -> T:
        for attempt in range(ATTEMPTS):
            try:
                return fn(*args, **kwargs)
            except (OperationalError, DBAPIError, optuna.exceptions.StorageInternalError) as e:
                if is_disk_full(e):
                    raise disk_full(shown_url) from None
                if not is_busy(e) or attempt == ATTEMPTS - 1:
                    raise
                delay = min(2.0, 0.02 * 2 ** attempt) * (0.5 + random.random())
                log.debug("database busy (%s); retrying in %.2fs", fn.__name__, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")
    return run
