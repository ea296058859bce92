"""`promptsearch db backup`: a consistent copy of an SQLite database in one file, made with SQLite's
online backup API (sqlite3.Connection.backup).

Copying the .db file by hand is not a backup: while a command runs (or after one was killed),
committed searches can sit in the -wal file beside it, and a copy taken in the middle of a write
can be torn. The backup API reads one consistent snapshot, WAL included, while searches go on.

The copy is in rollback-journal mode (not WAL), so it is complete on its own and readable on
read-only media; promptsearch switches it back to WAL when a command writes to it. With a search
name, every other search (its rows and its Optuna study) is deleted from the copy, which is then
vacuumed, so nothing of the others remains in the file. Evaluations are a cache shared by every
search and are kept whole.

PostgreSQL databases are backed up with the server's own tools (pg_dump).
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import optuna
import sqlalchemy as sa

from promptsearch.errors import UserError

PAGES_PER_STEP = 1024  # a busy database is copied in steps, so writers are not held up for long


def backup_sqlite(engine: sa.Engine, target: Path, keep: str | None) -> None:
    """Copy the database behind `engine` to the new file `target`; `keep`: the one search to keep
    (None: all)."""
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        dest = sqlite3.connect(target)
        try:
            source.backup(dest, pages=PAGES_PER_STEP)
        finally:
            dest.close()
    finally:
        raw.close()
    if keep is not None:
        _keep_only(target, keep)
    dest = sqlite3.connect(target)
    try:
        dest.execute("PRAGMA journal_mode=DELETE")  # one file on its own, even on read-only media
        if keep is not None:
            dest.execute("VACUUM")  # the other searches' pages are gone, not only unlinked
    finally:
        dest.close()


def _keep_only(target: Path, keep: str) -> None:
    con = sqlite3.connect(target)
    try:
        others = [r[0] for r in con.execute("SELECT study_name FROM ps_searches WHERE name != ?", (keep,))]
    finally:
        con.close()
    if others:
        storage = optuna.storages.RDBStorage(f"sqlite:///{target}", skip_compatibility_check=True,
                                             skip_table_creation=True)
        try:
            for study in others:
                with contextlib.suppress(KeyError):  # a search whose study is gone already
                    storage.delete_study(storage.get_study_id_from_name(study))
        finally:
            storage.engine.dispose()
    con = sqlite3.connect(target)
    try:
        con.execute("PRAGMA foreign_keys=ON")  # candidates, verdicts, proposals, owners: ON DELETE CASCADE
        con.execute("DELETE FROM ps_searches WHERE name != ?", (keep,))
        con.commit()
    finally:
        con.close()


def not_sqlite(shown: str) -> UserError:
    return UserError(f"db backup: {shown} is not an SQLite database; `db backup` copies SQLite files, for "
                     f"PostgreSQL use the server's tools: pg_dump --format=custom --file=FILE DBNAME")
