"""Versions of the project's own tables (ps_*), kept by the Alembic migrations in `migrations/`.

Optuna versions its own tables (in `alembic_version`); ours use a separate version table so
neither tool ever touches the other's. A new database is built by running every migration, so a
fresh database and an upgraded old one are the same by construction (a test compares both with
the models). There is no alembic.ini: the configuration is made here, at run time.

The migrations are the only DDL for our tables: the first open of an empty database and `db upgrade`
run them; nothing else creates or alters a `ps_` table. To change the schema: edit models.py, add
`migrations/versions/NNNN_what.py` (copy the last one; `down_revision` = the previous revision), and
set HEAD below. tests/storage/test_schema.py fails
until the migrations produce exactly the tables the models describe.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from promptsearch.errors import UserError, excerpt

log = logging.getLogger(__name__)
VERSION_TABLE = "ps_alembic_version"
FIRST = "0001"  # the schema of databases made before migrations existed (no version table)
HEAD = "0004"
KNOWN = ("0001", "0002", "0003", "0004")  # oldest first
MIGRATIONS = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x70735F6D  # any constant: serialises concurrent migrations on PostgreSQL


def target_metadata() -> sa.MetaData:
    """Every `ps_` table, as models.py declares them."""
    from promptsearch.storage.models import Base
    return Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Only our tables: Optuna's live in the same database and are none of our business."""
    if type_ == "table":
        return name is not None and name.startswith("ps_") and name != VERSION_TABLE
    return True


def revision_of(conn: Connection) -> str | None:
    """The schema revision of our tables; None when the database has none of them yet."""
    names = set(sa.inspect(conn).get_table_names())
    if VERSION_TABLE in names:
        return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    if "ps_searches" in names:
        return FIRST
    return None


def check(conn: Connection, shown_url: str) -> str | None:
    """Refuse a database whose tables are from another schema; return its revision."""
    rev = revision_of(conn)
    if rev is None or rev == HEAD:
        return rev
    if rev in KNOWN:
        raise UserError(f"database {shown_url} has promptsearch schema {rev}, this version needs {HEAD}; "
                        f"back it up, then run `promptsearch db upgrade --db {shown_url}`")
    raise newer(rev, shown_url)


def newer(rev: object, shown_url: str) -> UserError:
    """A revision this version does not know: newer only when it reads as one of ours (NNNN, above
    HEAD); anything else (garbage, empty, NULL, an older number we never had) is said as unknown."""
    if isinstance(rev, str) and rev.isdigit() and len(rev) == len(HEAD) and rev.isascii() and rev > HEAD:
        return UserError(f"database {shown_url} has promptsearch schema {rev}, newer than this version's "
                         f"{HEAD}; upgrade promptsearch (pip install -U promptsearch)")
    return UserError(f"database {shown_url} has promptsearch schema version '{excerpt(rev, 40)}' in "
                     f"{VERSION_TABLE}, which no promptsearch version wrote; the database is damaged or was "
                     f"changed by hand: restore it from a backup")


def upgrade(url: str, engine: Engine | None = None, shown_url: str = "") -> tuple[str | None, str]:
    """Bring our tables to HEAD in one transaction (creating them in an empty database).
    Returns (revision before, revision after)."""
    from alembic import command
    from alembic.config import Config

    with _migration_connection(url, engine) as conn:
        before = revision_of(conn)
        if before is not None and before not in KNOWN:
            raise newer(before, shown_url)
        if before == HEAD:
            return before, HEAD
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        if before == FIRST and VERSION_TABLE not in sa.inspect(conn).get_table_names():
            command.stamp(cfg, FIRST)  # made before migrations existed: it is the first schema
        command.upgrade(cfg, "head")
    log.info("promptsearch tables upgraded from %s to %s", before or "nothing", HEAD)
    return before, HEAD


@contextmanager
def _migration_connection(url: str, engine: Engine | None) -> Iterator[Connection]:
    """One connection, one transaction around all DDL. SQLite's Python driver would commit DDL as
    it goes; the SQLAlchemy recipe below makes the whole upgrade atomic there too, so a kill
    mid-upgrade leaves the old schema intact."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        assert engine is not None, "an in-memory database is migrated through its own engine"
        with engine.begin() as conn:  # one connection is the whole database: nothing to race
            yield conn
        return
    own = sa.create_engine(url, poolclass=NullPool)
    if own.dialect.name == "sqlite":
        @sa.event.listens_for(own, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            dbapi_conn.execute("PRAGMA busy_timeout=30000")

        @sa.event.listens_for(own, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the version
    try:
        with own.begin() as conn:
            if own.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            yield conn
    finally:
        own.dispose()

