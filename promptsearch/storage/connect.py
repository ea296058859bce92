"""Opening a database by URL: checks that give one-line errors, engines for writing and for
reading only, Optuna's storage beside ours, and `db upgrade`.

Reading commands (list, show, export, report, dashboard) open the database read-only: an SQLite
file through a `mode=ro` URI (no journal-mode change, no table creation, nothing written even on
a full disk or a read-only file system), a PostgreSQL session in read-only transactions.
"""
from __future__ import annotations

import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Callable

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from promptsearch.errors import ConfigError, NotFoundError, UserError, excerpt
from promptsearch.storage import schema
from promptsearch.storage.retry import read_only, retrying

log = logging.getLogger(__name__)
OPTUNA_TABLES = ("studies", "trials", "version_info", "alembic_version")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for every message, log and export."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def check_url(url: str, shown: str, create: bool) -> Path | None:
    """The SQLite file it names (None for other databases). The file must exist unless `create`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = url if "@" not in url else mask_url(url)  # nothing secret without a user part
        raise ConfigError(f"--db: '{shown}' is not a SQLAlchemy URL; "
                          "e.g. sqlite:///db/promptsearch.db or postgresql://user@host/db") from None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    if not create and not path.exists():
        raise NotFoundError(f"database {shown}: no such file; run `promptsearch optimize` first "
                            "or pass --db")
    if path.is_dir():
        raise ConfigError(f"--db: {path} is a folder; name a database file, e.g. sqlite:///{path}/promptsearch.db")
    if create and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"--db: cannot create folder {path.parent} ({e.strerror})") from None
    return path


def check_writable(path: Path, shown: str) -> None:
    """Before any work: a command that writes refuses an SQLite file it cannot write."""
    if path.exists() and not os.access(path, os.W_OK):
        raise read_only(shown, "the file cannot be written")
    if not os.access(path.parent, os.W_OK):  # SQLite writes its journal next to the file
        raise read_only(shown, f"its folder {path.parent} cannot be written")


def create_engine(url: str, sqlite_path: Path | None = None, read_only: bool = False) -> sa.Engine:
    try:
        return sa.create_engine(url, **engine_kwargs(url, sqlite_path, read_only))
    except NoSuchModuleError:
        raise ConfigError(f"--db: '{mask_url(url)}' names an unknown kind of database; "
                          "use sqlite:///path/file.db or postgresql://user:password@host/db") from None
    except ImportError as e:
        raise UserError(f"--db: the Python driver for {make_url(url).get_backend_name()} is not installed "
                        f"({e}); e.g. pip install 'psycopg[binary]' for postgresql") from None


def engine_kwargs(url: str, sqlite_path: Path | None, read_only: bool) -> dict[str, Any]:
    """For our engine and Optuna's alike."""
    backend = make_url(url).get_backend_name()
    if backend != "sqlite":
        # pre-ping: a worker idle for hours must not fail on a connection the server closed
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if read_only and backend == "postgresql":
            kwargs["connect_args"] = {"options": "-c default_transaction_read_only=on"}
        return kwargs
    if read_only and sqlite_path is not None:
        return {"creator": _read_only_sqlite(sqlite_path)}
    return {"connect_args": {"timeout": 30}}


def _read_only_sqlite(path: Path) -> Callable[[], sqlite3.Connection]:
    """Connections that cannot write the file. A database in WAL mode needs its -shm index; on a
    read-only file system or a full disk without one, SQLite can only read the file as immutable
    (nothing can change it there anyway)."""
    uri = path.resolve().as_uri()

    def connect() -> sqlite3.Connection:
        try:
            con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, check_same_thread=False)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opening is lazy: open now
            return con
        except sqlite3.OperationalError as e:
            if "unable to open" not in str(e) and "disk i/o" not in str(e).lower():
                raise
            log.info("%s: reading it as immutable (%s)", path, e)
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    return connect


def read_only_server(shown: str) -> UserError:
    return read_only(shown, "the server accepts only read-only transactions")


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (show, list, dashboards) work while a search writes; the busy timeout
    # makes concurrent writers wait instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def not_ours(names: set[str], shown: str) -> UserError:
    """A database with tables, none of them promptsearch's."""
    if set(OPTUNA_TABLES) <= names:
        holds = "it holds Optuna studies but no promptsearch searches"
    else:
        listed = sorted(names)
        holds = "its tables: " + ", ".join(listed[:5]) + (", …" if len(listed) > 5 else "")
    return UserError(f"database {shown} is not a promptsearch database ({holds}); "
                     "pass --db with a database that promptsearch made")


def open_optuna(url: str, kwargs: dict[str, Any], shown: str, create_tables: bool) -> optuna.storages.RDBStorage:
    """Optuna's storage on the same database, refusing tables of another Optuna version."""
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=True,
                                         skip_table_creation=not create_tables)
    current = storage.get_current_version()
    if current != storage.get_head_version():
        storage.engine.dispose()
        if current not in storage.get_all_versions():
            raise newer_optuna(current, shown)
        raise UserError(f"database {shown}: its Optuna tables are from an older Optuna version; "
                        f"back it up, then run `promptsearch db upgrade --db {shown}`")
    return storage


def newer_optuna(version: object, shown: str) -> UserError:
    """Optuna's schema versions read vMAJOR.MINOR.PATCH[.x]: only such a one is called newer."""
    if isinstance(version, str) and re.fullmatch(r"v\d+\.\d+\.\d+(\.[a-z])?", version):
        return UserError(f"database {shown}: its Optuna tables were written by a newer Optuna (schema {version}), "
                         f"which this promptsearch cannot read or upgrade; install the promptsearch and Optuna "
                         f"versions that wrote it")
    return UserError(f"database {shown}: its Optuna tables have schema version '{excerpt(version, 40)}' in "
                     f"alembic_version, which no Optuna version wrote; the database is damaged or was changed "
                     f"by hand: restore it from a backup")


def missing_optuna(names: set[str], shown: str) -> UserError | None:
    missing = [t for t in OPTUNA_TABLES if t not in names]
    if not missing:
        return None
    return UserError(f"database {shown} has promptsearch tables but not Optuna's ({', '.join(missing)}); "
                     "it is damaged or was not made by promptsearch")


def upgrade_database(url: str) -> dict[str, tuple[str | None, str]]:
    """`promptsearch db upgrade`: bring our tables and Optuna's to this version's schemas. Both
    are checked before either is changed."""
    shown = mask_url(url)
    path = check_url(url, shown, create=False)  # not Store(): opening refuses an old schema
    if path is not None:
        check_writable(path, shown)
    engine = create_engine(url, path)
    try:
        return retrying(_upgrade, shown)(url, engine, path, shown)
    except DatabaseError as e:
        raise UserError(f"database {shown}: cannot upgrade ({one_line(e)})") from None
    finally:
        engine.dispose()


def _upgrade(url: str, engine: sa.Engine, path: Path | None, shown: str) -> dict[str, tuple[str | None, str]]:
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
        ours = schema.revision_of(conn)
    if ours is None:
        raise not_ours(names, shown) if names else NotFoundError(
            f"database {shown} has no promptsearch searches yet; start one with `promptsearch optimize`")
    if ours not in schema.KNOWN:
        raise schema.newer(ours, shown)
    missing = missing_optuna(names, shown)
    if missing is not None:
        raise missing
    # as `optuna storage upgrade` opens it: tables a newer Optuna adds come from its migrations
    storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url, path, False),
                                         skip_compatibility_check=True, skip_table_creation=True)
    try:
        before = storage.get_current_version()
        if before not in storage.get_all_versions():
            raise newer_optuna(before, shown)
        revisions = schema.upgrade(url, engine, shown)
        if before != storage.get_head_version():
            storage.upgrade()
        return {"promptsearch": revisions, "optuna": (before, storage.get_current_version())}
    finally:
        storage.engine.dispose()


def one_line(e: BaseException) -> str:
    return " ".join(str(getattr(e, "orig", None) or e).split())[:300]
