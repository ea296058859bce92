"""Opening a database by URL: checks that give one-line errors, the engine, Optuna's storage
beside ours, and `db upgrade`."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from sqlalchemy.engine import Engine, create_engine as sa_create_engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError

from promptsearch.errors import ConfigError, NotFoundError, UserError
from promptsearch.storage import schema
from promptsearch.storage.retry import disk_full, is_disk_full, retrying

log = logging.getLogger(__name__)


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


def create_engine(url: str) -> Engine:
    try:
        return sa_create_engine(url, **engine_kwargs(url))
    except NoSuchModuleError:
        raise ConfigError(f"--db: '{mask_url(url)}' names an unknown kind of database; "
                          "use sqlite:///path/file.db or postgresql://user:password@host/db") from None
    except ImportError as e:
        raise UserError(f"--db: the Python driver for {make_url(url).get_backend_name()} is not installed "
                        f"({e}); e.g. pip install 'psycopg[binary]' for postgresql") from None


def engine_kwargs(url: str) -> dict[str, Any]:
    """For our engine and Optuna's alike."""
    if make_url(url).get_backend_name() != "sqlite":
        # pre-ping: a worker idle for hours must not fail on a connection the server closed
        return {"pool_pre_ping": True}
    return {"connect_args": {"timeout": 30}}


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (show, list, dashboards) work while a search writes; the busy timeout
    # makes concurrent writers wait instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_optuna(url: str, shown: str) -> optuna.storages.RDBStorage:
    """Optuna's storage on the same database, refusing tables of another Optuna version."""
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url))
    except RuntimeError as e:
        if "optuna" not in str(e).lower():
            raise
        raise UserError(f"database {shown}: its Optuna tables are from another Optuna version; "
                        f"back it up, then run `promptsearch db upgrade --db {shown}`") from None


def upgrade_database(url: str) -> dict[str, tuple[str | None, str]]:
    """`promptsearch db upgrade`: bring our tables and Optuna's to this version's schemas."""
    shown = mask_url(url)
    check_url(url, shown, create=False)  # not Store(): opening refuses an old schema
    engine = create_engine(url)
    try:
        ours = retrying(schema.upgrade, shown)(url, engine, shown)
        storage = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs(url), skip_compatibility_check=True)
        before = storage.get_current_version()
        if before != storage.get_head_version():
            storage.upgrade()
        theirs = (before, storage.get_current_version())
        storage.engine.dispose()
    except DatabaseError as e:
        if is_disk_full(e):
            raise disk_full(shown) from None
        raise UserError(f"database {shown}: cannot upgrade ({one_line(e)})") from None
    finally:
        engine.dispose()
    return {"promptsearch": ours, "optuna": theirs}


def one_line(e: BaseException) -> str:
    return " ".join(str(getattr(e, "orig", None) or e).split())[:300]
