"""One class in front of the database: our tables through SQLAlchemy, Optuna's through RDBStorage."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from promptsearch.errors import ConfigError, NotFoundError, UserError
from promptsearch.evaluate.evaluator import ExampleResult
from promptsearch.storage.models import (SCHEMA_VERSION, Base, CandidateRow, EvaluationRow, MetaRow,
                                         SearchRow)

log = logging.getLogger(__name__)
DEFAULT_URL = "sqlite:///db/promptsearch.db"


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


class Store:
    """Open (and with `create=True`, initialise) a database by SQLAlchemy URL."""

    def __init__(self, url: str = DEFAULT_URL, *, create: bool = True):
        self.url = url
        self._check_url(url, create)
        try:
            self.engine = sa.create_engine(url)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            self._session = sessionmaker(self.engine, expire_on_commit=False)
            if create:
                Base.metadata.create_all(self.engine)
                self._stamp_version()
            self.optuna = optuna.storages.RDBStorage(
                url, engine_kwargs={"connect_args": {"timeout": 30}} if self.engine.dialect.name == "sqlite" else {})
        except OperationalError as e:
            raise UserError(f"database {mask_url(url)}: cannot open ({e.orig})") from None

    @staticmethod
    def _check_url(url: str, create: bool) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigError(f"--db: '{mask_url(url)}' is not a SQLAlchemy URL; "
                              "e.g. sqlite:///db/promptsearch.db or postgresql://user@host/db") from None
        if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
            return
        path = Path(parsed.database)
        if not create and not path.exists():
            raise NotFoundError(f"database {url}: no such file; run `promptsearch optimize` first or pass --db")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)

    def session(self) -> Session:
        return self._session()

    def _stamp_version(self) -> None:
        with self.session() as s, s.begin():
            row = s.get(MetaRow, "schema_version")
            if row is None:
                s.add(MetaRow(key="schema_version", value=str(SCHEMA_VERSION)))

    # --- searches -------------------------------------------------------------------------

    def create_search(self, name: str, task: dict, space: dict, model: str,
                      settings: dict) -> SearchRecord:
        """Create the search row and its Optuna study together (or neither)."""
        if self.find_search(name) is not None:
            raise UserError(f"a search named '{name}' already exists in {mask_url(self.url)}; "
                            f"continue it with `promptsearch resume {name}` or choose another --name")
        study_name = f"promptsearch:{name}"
        optuna.create_study(study_name=study_name, storage=self.optuna, direction="maximize")
        try:
            with self.session() as s, s.begin():
                row = SearchRow(name=name, study_name=study_name, task=task, space=space,
                                model=model, settings=settings)
                s.add(row)
        except IntegrityError:
            optuna.delete_study(study_name=study_name, storage=self.optuna)
            raise UserError(f"a search named '{name}' already exists; choose another --name") from None
        return _record(row)

    def find_search(self, name: str) -> SearchRecord | None:
        with self.session() as s:
            row = s.scalars(sa.select(SearchRow).where(SearchRow.name == name)).first()
            return _record(row) if row else None

    def get_search(self, name: str) -> SearchRecord:
        rec = self.find_search(name)
        if rec is None:
            known = [r.name for r in self.list_searches()]
            hint = f"known: {', '.join(known)}" if known else "this database has no searches yet"
            raise NotFoundError(f"no search named '{name}' in {mask_url(self.url)} ({hint})")
        return rec

    def list_searches(self) -> list[SearchRecord]:
        with self.session() as s:
            return [_record(r) for r in s.scalars(sa.select(SearchRow).order_by(SearchRow.created))]

    def load_study(self, rec: SearchRecord) -> optuna.Study:
        return optuna.load_study(study_name=rec.study_name, storage=self.optuna)

    # --- candidates -----------------------------------------------------------------------

    def save_candidate(self, search_id: int, **fields: Any) -> None:
        """Store a rendered candidate once (a repeat of the same prompt hash is a no-op)."""
        with self.session() as s, s.begin():
            exists = s.scalars(sa.select(CandidateRow.id).where(
                CandidateRow.search_id == search_id,
                CandidateRow.prompt_hash == fields["prompt_hash"])).first()
            if exists is None:
                s.add(CandidateRow(search_id=search_id, **fields))

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
        known = self.get(model, prompt_hash, decoding, [r.example_id for r in results])
        rows = [EvaluationRow(model=model, prompt_hash=prompt_hash, decoding=decoding,
                              example_id=r.example_id, prediction=r.prediction,
                              correct=r.score >= 1.0, score=r.score)
                for r in results if r.example_id not in known]
        if not rows:
            return
        with self.session() as s, s.begin():
            s.add_all(rows)

    def count_evaluations(self) -> int:
        with self.session() as s:
            return s.scalar(sa.select(sa.func.count()).select_from(EvaluationRow)) or 0
