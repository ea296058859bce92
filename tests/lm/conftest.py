"""The real embedded model for tests/lm, loaded once per session (shared with tests/conftest.py's
`smollm` fixture when it exists, so a full run loads it once)."""
from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session")
def lm(request):
    try:
        return request.getfixturevalue("smollm")
    except pytest.FixtureLookupError:
        from promptsearch.lm import load_lm

        return load_lm("smollm2", device="cpu")
