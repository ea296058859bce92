"""One class in front of the database: our tables through SQLAlchemy, Optuna's through RDBStorage.

Every write is one transaction, retried while the database is busy; a repeated insert (a
candidate or an evaluation another worker stored first) is a no-op, never an IntegrityError.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import optuna
import sqlalchemy as sa
from optuna.trial import TrialState
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from promptsearch.errors import ConfigError, NotFoundError, UserError
from promptsearch.evaluate.evaluator import ExampleResult
from promptsearch.storage import locks, schema
from promptsearch.storage.models import Base, CandidateRow, EvaluationRow, SearchRow
from promptsearch.storage.retry import is_disk_full, disk_full, retrying
from promptsearch.storage.trials import GRACE_PERIOD, HEARTBEAT_INTERVAL, NoTrialSlot, TrialStorage

log = logging.getLogger(__name__)
DEFAULT_URL = "sqlite:///db/promptsearch.db"
USED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)  # hold a slot
__all__ = ["DEFAULT_URL", "Base", "NoTrialSlot", "SearchRecord", "Store", "mask_url"]


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for every message, log and export."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


@dataclass(frozen=True)
class SearchRecord:
    id: int
    name: str
    study_name: str
    task: dict[str, Any]
    space: dict[str, Any]
    model: str
    settings: dict[str, Any]
    created: datetime


def _record(row: SearchRow) -> SearchRecord:
    created = row.created if row.created.tzinfo else row.created.replace(tzinfo=timezone.utc)  # SQLite drops it
    return SearchRecord(row.id, row.name, row.study_name, row.task, row.space, row.model,
                        row.settings, created)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers (show, list, dashboards) work while a search writes; the busy timeout
    # makes concurrent writers wait instead of failing with "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _one_line(e: BaseException) -> str:
    return " ".join(str(getattr(e, "orig", None) or e).split())[:300]


class Store:
    """Open (and with `create=True`, initialise) a database by SQLAlchemy URL.

    A database whose promptsearch tables are from another schema is refused with a message
    naming `promptsearch db upgrade`. Heartbeat settings are for processes that run trials.
    """

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True,
                 heartbeat_interval: int = HEARTBEAT_INTERVAL, grace_period: int = GRACE_PERIOD):
        self.url = url
        self.shown_url = mask_url(url)
        sqlite_file = _check_url(url, self.shown_url, create)
        try:
            self.engine = _create_engine(url)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self._session = sessionmaker(self.engine, expire_on_commit=False)
            self._open_schema(create)
            self.optuna = TrialStorage(url, _optuna_engine_kwargs(self.engine), self.shown_url,
                                       heartbeat_interval=heartbeat_interval, grace_period=grace_period)
            self.optuna.stale_lock = self._study_lock
        except UserError:
            raise
        except RuntimeError as e:
            if "optuna" not in str(e).lower():
                raise
            raise UserError(f"database {self.shown_url}: its Optuna tables are from another Optuna version; "
                            f"back it up, then run `promptsearch db upgrade --db {self.shown_url}`") from None
        except DatabaseError as e:
            if is_disk_full(e):
                raise disk_full(self.shown_url) from None
            what = "not an SQLite database" if sqlite_file and "not a database" in str(e) else _one_line(e)
            raise UserError(f"database {self.shown_url}: cannot open ({what})") from None

    def _open_schema(self, create: bool) -> None:
        with self.engine.connect() as conn:
            rev = schema.check(conn, self.shown_url)
        if rev is None:
            if not create:
                raise NotFoundError(f"database {self.shown_url} has no promptsearch searches yet; "
                                    "start one with `promptsearch optimize`")
            retrying(schema.upgrade, self.shown_url)(self.url, self.engine, self.shown_url)

    def session(self) -> Session:
        return self._session()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self.session() as s, s.begin():
            yield s

    def close(self) -> None:
        """Stop heartbeats and close connections (a process exiting does the same)."""
        self.optuna.close()
        self.engine.dispose()

    # --- searches -------------------------------------------------------------------------

    def create_search(self, name: str, task: dict, space: dict, model: str,
                      settings: dict) -> SearchRecord:
        """Create the search row and its Optuna study together (or neither)."""
        if self.find_search(name) is not None:
            raise UserError(f"a search named '{name}' already exists in {self.shown_url}; "
                            f"continue it with `promptsearch resume {name}` or choose another --name")
        study_name = f"promptsearch:{name}"
        self._create_study(study_name)
        try:
            row = retrying(self._insert_search, self.shown_url)(
                name=name, study_name=study_name, task=task, space=space, model=model, settings=settings)
        except IntegrityError:
            optuna.delete_study(study_name=study_name, storage=self.optuna)
            raise UserError(f"a search named '{name}' already exists; choose another --name") from None
        return _record(row)

    def _create_study(self, study_name: str) -> None:
        try:
            optuna.create_study(study_name=study_name, storage=self.optuna, direction="maximize")
        except optuna.exceptions.DuplicatedStudyError:
            # A process killed between the study and the search row leaves a study that no
            # search owns; with no trial in it, it is safe to start over.
            if optuna.load_study(study_name=study_name, storage=self.optuna).trials:
                raise UserError(f"{self.shown_url} holds an Optuna study '{study_name}' with trials but no "
                                "promptsearch search; choose another --name") from None
            log.warning("removing study %s left by an interrupted `optimize`", study_name)
            optuna.delete_study(study_name=study_name, storage=self.optuna)
            optuna.create_study(study_name=study_name, storage=self.optuna, direction="maximize")

    def _insert_search(self, **fields: Any) -> SearchRow:
        with self._write() as s:
            row = SearchRow(**fields)
            s.add(row)
        return row

    def find_search(self, name: str) -> SearchRecord | None:
        with self.session() as s:
            row = s.scalars(sa.select(SearchRow).where(SearchRow.name == name)).first()
            return _record(row) if row else None

    def get_search(self, name: str) -> SearchRecord:
        rec = self.find_search(name)
        if rec is None:
            known = [r.name for r in self.list_searches()]
            hint = f"known: {', '.join(known)}" if known else "this database has no searches yet"
            raise NotFoundError(f"no search named '{name}' in {self.shown_url} ({hint})")
        return rec

    def list_searches(self) -> list[SearchRecord]:
        with self.session() as s:
            return [_record(r) for r in s.scalars(sa.select(SearchRow).order_by(SearchRow.created))]

    def load_study(self, rec: SearchRecord, *, sampler: optuna.samplers.BaseSampler | None = None,
                   pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
        """The search's Optuna study; `sampler` and `pruner` go to Optuna as it loads it."""
        return optuna.load_study(study_name=rec.study_name, storage=self.optuna, sampler=sampler, pruner=pruner)

    # --- the shared trial target (parallel workers) ---------------------------------------

    def trial_target(self, rec: SearchRecord) -> int | None:
        with self.session() as s:
            return s.scalar(sa.select(SearchRow.target_trials).where(SearchRow.id == rec.id))

    def set_trial_target(self, rec: SearchRecord, target: int) -> None:
        retrying(self._update_target, self.shown_url)(rec.id, sa.literal(target))

    def raise_trial_target(self, rec: SearchRecord, more: int) -> int:
        """target = max(target, finished trials) + more, in one statement: workers adding trials
        at the same moment add up exactly."""
        finished = self.slot_counts(rec)[1]
        current = sa.func.coalesce(SearchRow.target_trials, 0)
        retrying(self._update_target, self.shown_url)(
            rec.id, sa.case((current > finished, current), else_=sa.literal(finished)) + more)
        return self.trial_target(rec) or 0

    def _update_target(self, search_id: int, value: Any) -> None:
        with self._write() as s:
            s.execute(sa.update(SearchRow).where(SearchRow.id == search_id).values(target_trials=value))

    def slot_counts(self, rec: SearchRecord) -> tuple[int, int, int]:
        """(trials holding a slot: finished, running or queued; finished trials; queued trials)."""
        counts = self.optuna.count_states(self.optuna.get_study_id_from_name(rec.study_name))
        return (sum(counts.get(s, 0) for s in USED), sum(counts.get(s, 0) for s in USED[:2]),
                counts.get(TrialState.WAITING, 0))

    @contextmanager
    def _study_lock(self, study_id: int) -> Iterator[None]:
        study_name = self.optuna.get_study_name_from_id(study_id)
        with self.session() as s:
            search_id = s.scalar(sa.select(SearchRow.id).where(SearchRow.study_name == study_name))
        if search_id is None:
            yield
            return
        with locks.search_lock(self.engine, search_id):
            yield

    @contextmanager
    def claiming_slots(self, rec: SearchRecord) -> Iterator[None]:
        """While inside, this process makes a trial of `rec` RUNNING only under the search lock and
        only while the target leaves room for it; otherwise Study.ask raises NoTrialSlot."""
        @contextmanager
        def slot(popping: bool) -> Iterator[None]:
            with locks.search_lock(self.engine, rec.id):
                target = self.trial_target(rec) or 0
                used, _, waiting = self.slot_counts(rec)
                held = used - waiting if popping else used  # a queued trial already holds its slot
                if held >= target:
                    raise NoTrialSlot(f"{used} of {target} trials are finished, running or queued")
                yield

        self.optuna.slot = slot
        try:
            yield
        finally:
            self.optuna.slot = None

    # --- candidates -----------------------------------------------------------------------

    def save_candidate(self, search_id: int, **fields: Any) -> None:
        """Store a rendered candidate once (a repeat of the same prompt hash is a no-op)."""
        retrying(self._insert_ignoring_duplicates, self.shown_url)(CandidateRow, [{"search_id": search_id, **fields}])

    def get_candidate(self, search_id: int, prompt_hash: str) -> CandidateRow | None:
        with self.session() as s:
            return s.scalars(sa.select(CandidateRow).where(
                CandidateRow.search_id == search_id, CandidateRow.prompt_hash == prompt_hash)).first()

    # --- evaluation cache (implements evaluate.EvalCache) ---------------------------------

    def get(self, model: str, prompt_hash: str, decoding: str,
            example_ids: Sequence[str]) -> dict[str, ExampleResult]:
        wanted = set(example_ids)
        with self.session() as s:
            rows = s.execute(sa.select(EvaluationRow.example_id, EvaluationRow.prediction,
                                       EvaluationRow.score).where(
                EvaluationRow.model == model, EvaluationRow.prompt_hash == prompt_hash,
                EvaluationRow.decoding == decoding))
            return {r.example_id: ExampleResult(r.example_id, r.prediction, r.score)
                    for r in rows if r.example_id in wanted}

    def put(self, model: str, prompt_hash: str, decoding: str,
            results: Sequence[ExampleResult]) -> None:
        """Insert results in one transaction; rows another worker stored meanwhile are kept."""
        rows = [{"model": model, "prompt_hash": prompt_hash, "decoding": decoding, "example_id": r.example_id,
                 "prediction": r.prediction, "correct": r.score >= 1.0, "score": r.score} for r in results]
        if rows:
            retrying(self._insert_ignoring_duplicates, self.shown_url)(EvaluationRow, rows)

    def _insert_ignoring_duplicates(self, model: type[Base], rows: list[dict]) -> None:
        """INSERT … ON CONFLICT DO NOTHING: two workers storing the same rows at once both
        succeed and the first one's rows stay."""
        dialect = self.engine.dialect.name
        with self._write() as s:
            if dialect in ("sqlite", "postgresql"):
                insert = (sqlite if dialect == "sqlite" else postgresql).insert(model)
                s.execute(insert.on_conflict_do_nothing(), rows)
                return
            for row in rows:  # other databases: one savepoint per row
                try:
                    with s.begin_nested():
                        s.add(model(**row))
                except IntegrityError:
                    pass

    def count_evaluations(self) -> int:
        with self.session() as s:
            return s.scalar(sa.select(sa.func.count()).select_from(EvaluationRow)) or 0


def _check_url(url: str, shown: str, create: bool) -> bool:
    """Whether it names an SQLite file. The file must exist unless `create`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = url if "@" not in url else mask_url(url)  # nothing secret without a user part
        raise ConfigError(f"--db: '{shown}' is not a SQLAlchemy URL; "
                          "e.g. sqlite:///db/promptsearch.db or postgresql://user@host/db") from None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return False
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
    return True


def _create_engine(url: str) -> sa.Engine:
    try:
        # pre-ping: a worker idle for hours must not fail on a connection the server closed
        return sa.create_engine(url, pool_pre_ping=make_url(url).get_backend_name() != "sqlite")
    except NoSuchModuleError:
        raise ConfigError(f"--db: '{mask_url(url)}' names an unknown kind of database; "
                          "use sqlite:///path/file.db or postgresql://user:password@host/db") from None
    except ImportError as e:
        raise UserError(f"--db: the Python driver for {make_url(url).get_backend_name()} is not installed "
                        f"({e}); e.g. pip install 'psycopg[binary]' for postgresql") from None


def _optuna_engine_kwargs(engine: sa.Engine) -> dict:
    if engine.dialect.name == "sqlite":
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def upgrade_database(url: str) -> dict[str, tuple[str | None, str]]:
    """`promptsearch db upgrade`: bring our tables and Optuna's to this version's schemas."""
    shown = mask_url(url)
    _check_url(url, shown, create=False)  # not Store(): opening refuses an old schema
    engine = _create_engine(url)
    try:
        ours = retrying(schema.upgrade, shown)(url, engine, shown)
        storage = optuna.storages.RDBStorage(url, engine_kwargs=_optuna_engine_kwargs(engine),
                                             skip_compatibility_check=True)
        before = storage.get_current_version()
        if before != storage.get_head_version():
            storage.upgrade()
        theirs = (before, storage.get_current_version())
        storage.engine.dispose()
    except DatabaseError as e:
        if is_disk_full(e):
            raise disk_full(shown) from None
        raise UserError(f"database {shown}: cannot upgrade ({_one_line(e)})") from None
    finally:
        engine.dispose()
    return {"promptsearch": ours, "optuna": theirs}
