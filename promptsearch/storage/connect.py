"""Opening a database by URL: checks that give one-line errors, engines for writing and for
reading only, Optuna's storage beside ours, and `db upgrade`.

Reading commands (list, show, export, report, dashboard) open the database read-only (see
_read_only_sqlite: no write, no journal-mode change, no table creation, every commit seen even on
a full disk or a read-only file system), a PostgreSQL session in read-only transactions. Writing
commands checkpoint the WAL on close, so that a database is one file after a command exits.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    """Connections that cannot write the file, and that see every committed search:

    - a database in WAL mode (ours are) in a folder we can write: a read-write connection with
      `query_only` (SQLite refuses every write). A `mode=ro` connection would create the -wal and
      -shm files and could not remove them on close; this one, the last to close, folds the WAL
      into the file and removes them, so the database is one file again after `show`;
    - otherwise `mode=ro` (nothing is created for a rollback-journal file);
    - on a read-only file system or a full disk, where SQLite cannot make the -shm index that
      WAL needs, the file is read as immutable, which ignores the -wal file: if that holds
      commits, the .db and the -wal are copied to a private temporary folder and read there
      (nothing can change them on read-only media anyway)."""
    uri = path.resolve().as_uri()

    def connect() -> sqlite3.Connection:
        if _wal_mode(path) and os.access(path.parent, os.W_OK) and os.access(path, os.W_OK):
            try:
                return _opened(f"{uri}?mode=rw", query_only=True)
            except sqlite3.OperationalError as e:
                log.info("%s: reading it with mode=ro (%s)", path, e)
        try:
            return _opened(f"{uri}?mode=ro")
        except sqlite3.OperationalError as e:
            if "unable to open" not in str(e) and "disk i/o" not in str(e).lower():
                raise
            log.info("%s: reading it as immutable (%s)", path, e)
            copy = _snapshot(path)
            if copy is not None:
                return _opened(copy.as_uri(), query_only=True)
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    return connect


def _opened(uri: str, query_only: bool = False) -> sqlite3.Connection:
    con = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
    try:
        if query_only:
            con.execute("PRAGMA query_only=ON")
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opening is lazy: open now
    except sqlite3.Error:
        con.close()
        raise
    return con


def _wal_mode(path: Path) -> bool:
    """The file's header says WAL (bytes 18 and 19 are 2; 1 for a rollback journal)."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2 and header[19] == 2


_SNAPSHOTS: dict[Path, Path] = {}


def _snapshot(path: Path) -> Path | None:
    """A private copy of a WAL database and its non-empty -wal file (once per process), removed
    when the process exits; None when there is no WAL to read or it cannot be copied."""
    wal = Path(f"{path}-wal")
    if path in _SNAPSHOTS:
        return _SNAPSHOTS[path]
    try:
        if not wal.exists() or wal.stat().st_size == 0:
            return None
        folder = Path(tempfile.mkdtemp(prefix="promptsearch-ro-"))
        atexit.register(shutil.rmtree, folder, True)
        shutil.copyfile(path, folder / path.name)
        shutil.copyfile(wal, folder / wal.name)
    except OSError as e:
        log.warning("%s: cannot copy it with its -wal file to read it (%s); reading the file alone", path, e)
        return None
    _SNAPSHOTS[path] = folder / path.name
    return _SNAPSHOTS[path]


def read_only_server(shown: str) -> UserError:
    return read_only(shown, "the server accepts only read-only transactions")


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # The busy timeout makes concurrent writers wait instead of failing with "database is
    # locked". The journal mode is not set here: a file that turns out not to be ours must be
    # left as it was (use_wal, once the schema check has passed).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def use_wal(engine: sa.Engine) -> None:
    """WAL lets readers (show, list, dashboards) and parallel workers work while a search writes.
    The mode is stored in the file, so once is enough; only for a database that is ours."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")


_AT_EXIT: weakref.WeakKeyDictionary[sa.Engine, bool] = weakref.WeakKeyDictionary()


def close_at_exit(engine: sa.Engine, checkpoint: bool = False) -> None:
    """Dispose of `engine` when the process exits (after a checkpoint if `checkpoint`): a command
    that returns without closing its Store still leaves the database as one file. Weak: an engine
    that is collected earlier closes its connections then."""
    _AT_EXIT[engine] = checkpoint


@atexit.register
def _close_all() -> None:
    for engine, fold in list(_AT_EXIT.items()):
        try:
            if fold:
                checkpoint(engine)
            engine.dispose()
        except Exception as e:
            log.debug("closing %s at exit: %s", mask_url(str(engine.url)), e)


def checkpoint(engine: sa.Engine) -> None:
    """Fold the WAL into the database file and empty it, on close: the .db alone then holds every
    search, even if another process (a worker, a `show`) still has the database open and so keeps
    the -wal and -shm files. TRUNCATE waits, up to the busy timeout, for connections in the middle
    of a read (Store.close therefore closes its own pooled ones first); past it SQLite says busy and
    the last connection to close does the checkpoint instead (SQLite removes -wal and -shm when the
    last connection closes). A checkpoint never loses a commit:
    it only copies committed pages, under SQLite's own locks, so concurrent workers are safe."""
    try:
        with engine.connect() as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.debug("checkpoint: the database is in use by another connection; its last one folds the WAL in")
    except DatabaseError as e:
        log.info("checkpoint skipped: %s", one_line(e))


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
