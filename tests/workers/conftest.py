"""Databases for the worker tests: a SQLite file, and PostgreSQL when PROMPTSEARCH_TEST_PG is set
(.ci/run starts a server with scripts/start_postgres.sh and sets it)."""
from __future__ import annotations

import pytest
from workerdb import PG_URL, needs_pg


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/workers.db"
    return PG_URL
