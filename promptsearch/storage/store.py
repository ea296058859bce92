"""One object in front of a database: searches and their Optuna studies, and the repositories of
the project's own tables (evaluations, candidates, proposals, verdicts, bootstrap demos, trial
owners), which share one set of sessions retried while the database is busy (retry.Sessions).

A Store opens a database in one of three modes: `create` (optimize: build the tables of an empty
database by running the migrations), writing (resume, worker, eval: refused if the file is
read-only) and `read_only` (list, show, export, report, dashboard: nothing is ever written).
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import optuna
import sqlalchemy as sa
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.exc import DatabaseError, IntegrityError

from promptsearch.errors import NotFoundError, UserError, resume_command
from promptsearch.storage import backup, connect, locks, schema
from promptsearch.storage.bootstrap import BootstrapDemos
from promptsearch.storage.candidates import Candidates
from promptsearch.storage.connect import mask_url, upgrade_database
from promptsearch.storage.evaluations import Evaluations
from promptsearch.storage.models import SearchRow
from promptsearch.storage.owners import GRACE_PERIOD, HEARTBEAT_INTERVAL, TrialOwners
from promptsearch.storage.proposals import Proposals
from promptsearch.storage.retry import Sessions, environment_error, retrying
from promptsearch.storage.verdicts import Verdicts

log = logging.getLogger(__name__)
DEFAULT_URL = "sqlite:///db/promptsearch.db"
OPEN_ATTEMPTS = 5
RACE_WAITS = 20  # x 0.1 s: how long a study without a search row may be another command's, mid-creation
_CREATION_RACE = ("already exists", "UNIQUE constraint failed", "duplicate key value")
__all__ = ["DEFAULT_URL", "SearchRecord", "SlotCounts", "Store", "mask_url", "slot_counts",
           "upgrade_database"]


@dataclass(frozen=True, kw_only=True)
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
    created = row.created if row.created.tzinfo else row.created.replace(tzinfo=UTC)  # SQLite drops it
    return SearchRecord(id=row.id, name=row.name, study_name=row.study_name, task=row.task, space=row.space,
                        model=row.model, settings=row.settings, created=created)


class SlotCounts(NamedTuple):
    """A search's trials that hold a slot of its target."""

    used: int  # finished, running or queued
    finished: int  # complete or pruned: what --trials counts
    waiting: int  # queued

    @property
    def running(self) -> int:
        return self.used - self.finished - self.waiting


def slot_counts(trials: optuna.Study | Sequence[FrozenTrial]) -> SlotCounts:
    """Of a study, or of trials already read. A study's are read by Study.get_trials, whose cache
    reads only the trials that changed since the study's last look: keep one Study object to count
    often."""
    if isinstance(trials, optuna.Study):
        trials = trials.get_trials(deepcopy=False)
    finished = running = waiting = 0
    for t in trials:
        finished += t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        running += t.state == TrialState.RUNNING
        waiting += t.state == TrialState.WAITING
    return SlotCounts(finished + running + waiting, finished, waiting)


def trial_score(trial: FrozenTrial) -> float:
    """A completed trial's dev score: its value, or its first value in a multi-objective study
    (search/objectives.py: the score always comes first), where `trial.value` raises. Optuna
    types the values optional: running and failed trials have none."""
    if trial.values is None:
        raise ValueError(f"trial {trial.number} has no value (state {trial.state.name})")
    return float(trial.values[0])


class Store:
    """Open a database by SQLAlchemy URL (`create`: and build its tables if it has none yet).

    A database whose promptsearch tables are from another schema is refused with a message
    naming `promptsearch db upgrade`; one that holds other tables but none of ours is said not
    to be a promptsearch database. Heartbeat settings are for processes that run trials.
    """

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True, read_only: bool = False,
                 heartbeat_interval: int = HEARTBEAT_INTERVAL, grace_period: int = GRACE_PERIOD):
        self.url, self.shown_url, self.read_only = url, mask_url(url), read_only
        self.heartbeat_interval, self.grace_period = heartbeat_interval, grace_period
        create = create and not read_only
        sqlite_file = connect.check_url(url, self.shown_url, create)
        self.sqlite_file = sqlite_file  # the SQLite file (None for a server database)
        if sqlite_file is not None and not read_only:
            connect.check_writable(sqlite_file, self.shown_url)
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._open(url, sqlite_file, read_only, create)
                break
            except UserError:
                self._dispose()
                raise
            except DatabaseError as e:
                self._dispose()
                # Two commands creating the same new database at once: one of them finds the other's
                # tables half made ("table studies already exists", a UNIQUE constraint on the
                # version row). Opening again sees them finished.
                if attempt < OPEN_ATTEMPTS - 1 and any(m in str(e) for m in _CREATION_RACE):
                    time.sleep(0.05 * (attempt + 1))
                    continue
                self._open_failed(e, sqlite_file)
        self.evaluations = Evaluations(self.db)  # the evaluation cache (evaluate.EvalCache)
        self.candidates = Candidates(self.db)
        self.proposals = Proposals(self.db)
        self.verdicts = Verdicts(self.db)
        self.demos = BootstrapDemos(self.db)
        self.owners = TrialOwners(self.db, heartbeat_interval)
        self._closed = False
        # closed at exit (even once this Store is gone: Optuna's objects keep its engines alive),
        # so that the database is one file after every command
        connect.close_at_exit(self.engine, checkpoint=sqlite_file is not None and not read_only)
        connect.close_at_exit(self.optuna.engine)
        log.debug("opened %s (%s)", self.shown_url, "read-only" if read_only else "read-write")

    def _dispose(self) -> None:
        """A database refused while opening: its connections go now, not at some later collection."""
        for engine in (getattr(self, "engine", None), getattr(getattr(self, "optuna", None), "engine", None)):
            if engine is not None:
                engine.dispose()

    def _open(self, url: str, sqlite_file: Path | None, read_only: bool, create: bool) -> None:
        self.engine = connect.create_engine(url, sqlite_file, read_only)
        if self.engine.dialect.name == "sqlite" and not read_only:
            sa.event.listen(self.engine, "connect", connect.sqlite_pragmas)
        self.db = Sessions(self.engine, self.shown_url, read_only=read_only)
        self._open_schema(create)
        if self.engine.dialect.name == "sqlite" and not read_only:
            connect.use_wal(self.engine)  # only now: a file that is not ours is left as it was
        self.optuna = connect.open_optuna(url, connect.engine_kwargs(url, sqlite_file, read_only),
                                          self.shown_url, create_tables=not read_only)
        if not read_only and self.engine.dialect.name == "postgresql":
            self._check_server_writable()

    def _open_failed(self, e: DatabaseError, sqlite_file: Path | None) -> NoReturn:
        known = environment_error(e, self.shown_url)
        if known is not None:
            raise known from None
        what = "not an SQLite database" if sqlite_file and "not a database" in str(e) else connect.one_line(e)
        raise UserError(f"database {self.shown_url}: cannot open ({what})") from None

    def _open_schema(self, create: bool) -> None:
        with self.engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            rev = schema.check(conn, self.shown_url)
        if rev is None:
            # another application's tables and none of ours: never add ours to its file (a
            # migration interrupted half-way leaves ps_ tables, which it may finish)
            if names and (not create or not any(n.startswith("ps_") for n in names)):
                raise connect.not_ours(names, self.shown_url)
            if not create:
                raise NotFoundError(f"database {self.shown_url} has no promptsearch searches yet; "
                                    "start one with `promptsearch optimize`")
            retrying(schema.upgrade, self.shown_url)(self.url, self.engine, self.shown_url)
        elif self.read_only:  # nothing may create Optuna's tables now
            missing = connect.missing_optuna(names, self.shown_url)
            if missing is not None:
                raise missing

    def _check_server_writable(self) -> None:
        with self.engine.connect() as conn:
            if conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on":
                raise connect.read_only_server(self.shown_url)

    def close(self) -> None:
        """Stop heartbeats, fold the WAL into the database file and close every connection: an
        SQLite database is then one file (the last connection to close removes -wal and -shm).
        Called for every open Store when the process exits."""
        if self._closed:
            return
        self._closed = True
        self.owners.close()
        # Optuna's pooled connections first: TRUNCATE waits (SQLite's 30 s busy timeout) for every
        # connection still inside a read, and an idle pooled one can be: closing a database this
        # process had just created took 30 s.
        self.optuna.engine.dispose()
        if self.sqlite_file is not None and not self.read_only:
            self.engine.dispose()
            connect.checkpoint(self.engine)
        self.engine.dispose()

    def backup(self, target: Path, keep: SearchRecord | None = None) -> None:
        """Copy the database to the new file `target` with SQLite's backup API (storage/backup.py):
        every search, or only `keep`. SQLite only: PostgreSQL has pg_dump."""
        if self.sqlite_file is None:
            raise backup.not_sqlite(self.shown_url)
        try:
            backup.backup_sqlite(self.engine, target, keep.name if keep else None)
        except (DatabaseError, sqlite3.Error) as e:
            known = environment_error(e, self.shown_url) if isinstance(e, DatabaseError) else None
            raise known or UserError(f"database {self.shown_url}: cannot back it up ({connect.one_line(e)})") from None

    @contextmanager
    def search_lock(self, record: SearchRecord) -> Iterator[None]:
        """Held by one process at a time per search, across processes (see locks.py)."""
        with locks.search_lock(self.engine, record.id):
            yield

    # --- searches -------------------------------------------------------------------------

    def add_search(self, name: str, task: dict, space: dict, model: str,
                      settings: dict, directions: list[str] | None = None) -> SearchRecord:
        """Create the search row and its Optuna study together (or neither)."""
        if self.find_search(name) is not None:
            raise self.duplicate(name)
        study_name = f"promptsearch:{name}"
        self._create_study(name, study_name, directions or ["maximize"])
        try:
            row = self.db.write(lambda s: _added(s, SearchRow(name=name, study_name=study_name, task=task,
                                                              space=space, model=model, settings=settings)))
        except IntegrityError:
            # Another command created this name between our check and our row: its row owns the
            # study now (the names are the same), so the study stays.
            raise self.duplicate(name) from None
        return _record(row)

    def duplicate(self, name: str) -> UserError:
        """The one message for a name that is taken, however the race between two commands went."""
        return UserError(f"a search named '{name}' already exists in {self.shown_url}; continue it with "
                         f"`{resume_command(name)}` or choose another --name")

    def _create_study(self, name: str, study_name: str, directions: list[str]) -> None:
        create = retrying(optuna.create_study, self.shown_url)
        try:
            create(study_name=study_name, storage=self.optuna, directions=directions)
        except optuna.exceptions.DuplicatedStudyError:
            # Another command creating the same name writes its row right after its study:
            # wait for it before calling the study orphaned (deleting it would lose that search).
            for _ in range(RACE_WAITS):
                if self.find_search(name) is not None:
                    raise self.duplicate(name) from None
                time.sleep(0.1)
            # A process killed between the study and the search row leaves a study that no
            # search owns; with no trial in it, it is safe to start over.
            if optuna.load_study(study_name=study_name, storage=self.optuna).trials:
                raise UserError(f"{self.shown_url} holds an Optuna study '{study_name}' with trials but no "
                                "promptsearch search; choose another --name") from None
            log.warning("removing study %s left by an interrupted `optimize`", study_name)
            optuna.delete_study(study_name=study_name, storage=self.optuna)
            create(study_name=study_name, storage=self.optuna, directions=directions)

    def find_search(self, name: str) -> SearchRecord | None:
        row = self.db.read(lambda s: s.scalars(sa.select(SearchRow).where(SearchRow.name == name)).first())
        return _record(row) if row else None

    def get_search(self, name: str) -> SearchRecord:
        rec = self.find_search(name)
        if rec is None:
            known = [r.name for r in self.list_searches()]
            hint = f"known: {', '.join(known)}" if known else "this database has no searches yet"
            raise NotFoundError(f"no search named '{name}' in {self.shown_url} ({hint})")
        return rec

    def list_searches(self) -> list[SearchRecord]:
        rows = self.db.read(lambda s: list(s.scalars(sa.select(SearchRow).order_by(SearchRow.created))))
        return [_record(r) for r in rows]

    def load_study(self, rec: SearchRecord, *, sampler: optuna.samplers.BaseSampler | None = None,
                   pruner: optuna.pruners.BasePruner | None = None) -> optuna.Study:
        """The search's Optuna study; `sampler` and `pruner` go to Optuna as it loads it."""
        return optuna.load_study(study_name=rec.study_name, storage=self.optuna, sampler=sampler, pruner=pruner)

    # --- the shared trial target (parallel workers) ---------------------------------------

    def trial_target(self, rec: SearchRecord) -> int | None:
        return self.db.read(lambda s: s.scalar(sa.select(SearchRow.target_trials).where(SearchRow.id == rec.id)))

    def set_trial_target(self, rec: SearchRecord, target: int) -> None:
        self._update_target(rec.id, sa.literal(target))

    def raise_trial_target(self, rec: SearchRecord, more: int) -> int:
        """target = max(target, finished trials) + more, in one statement: workers adding trials
        at the same moment add up exactly."""
        finished = self.slot_counts(rec).finished
        current = sa.func.coalesce(SearchRow.target_trials, 0)
        self._update_target(rec.id, sa.case((current > finished, current), else_=sa.literal(finished)) + more)
        return self.trial_target(rec) or 0

    def _update_target(self, search_id: int, value: Any) -> None:
        self.db.write(lambda s: s.execute(sa.update(SearchRow).where(SearchRow.id == search_id)
                                          .values(target_trials=value)))

    def slot_counts(self, rec: SearchRecord) -> SlotCounts:
        """(trials holding a slot: finished, running or queued; finished trials; queued trials)."""
        return slot_counts(self.load_study(rec))


def _added(s: Any, row: SearchRow) -> SearchRow:
    s.add(row)
    return row

