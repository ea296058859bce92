"""Shared by the worker tests: the PostgreSQL server to test against, when there is one."""
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
