"""Databases for the worker tests: a SQLite file, and PostgreSQL when PROMPTSEARCH_TEST_PG is set
(.ci/run starts a server with scripts/start_postgres.sh and sets it)."""
from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("PROMPTSEARCH_TEST_PG")
needs_pg = pytest.mark.skipif(not PG_URL, reason="PROMPTSEARCH_TEST_PG is not set: no PostgreSQL server to test "
                                                 "against (scripts/start_postgres.sh starts one)")


def unique_name(prefix: str) -> str:
    """Searches on the shared PostgreSQL database get names no other test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/workers.db"
    return PG_URL
