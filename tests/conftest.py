"""Shared fixtures: tiny tasks written to tmp_path, a scripted fake LM for logic tests, and the
real embedded model (loaded once per session) for everything that must prove a feature works."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: no spinning on a busy CPU
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `pytest -n 2` (the README's command): one process per core
    # one torch thread in each worker and in what it starts (before torch loads): two workers with
    # two threads each would fight over two cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")

from psdata import sentiment_rows, write_jsonl
from psfakes import FakeLM

ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """For `pytest -n 2 --dist loadgroup`: a file's tests run in one worker, so that its module-
    scoped fixtures (a loaded model, four `serve` processes, a finished search) are made once; and
    the tests on the one PostgreSQL database of PROMPTSEARCH_TEST_PG all run in one worker, one at
    a time. Without -n the groups change nothing."""
    for item in items:
        on_pg = any("PROMPTSEARCH_TEST_PG" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif"))
        item.add_marker(pytest.mark.xdist_group("postgres" if on_pg else item.nodeid.split("::")[0]))


@pytest.fixture
def fake_lm():
    return FakeLM()


@pytest.fixture
def tiny_task(tmp_path) -> Path:
    """A small label task (train 12, dev 6, test 6) whose labels the fake LM finds in the text."""
    d = tmp_path / "task"
    write_jsonl(d / "train.jsonl", sentiment_rows(12))
    write_jsonl(d / "dev.jsonl", sentiment_rows(6, offset=100))
    write_jsonl(d / "test.jsonl", sentiment_rows(6, offset=200))
    (d / "task.yaml").write_text(
        "name: tiny\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
        "inputs: [review]\noutput: label\nmetric: accuracy\nlabels: [negative, positive]\n")
    return d / "task.yaml"


@pytest.fixture
def tiny_space(tmp_path) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(
        "name: tiny\ninstructions:\n  - 'Classify as {labels}.'\n  - 'Sentiment?'\n"
        "demos:\n  counts: [0, 2]\n  selection: [random, stratified]\n  draws: 2\n"
        "cot_triggers: [null, \"Let's think step by step.\"]\ntemplates: [plain, chat]\nseed: 0\n")
    return p


@pytest.fixture(scope="session")
def smollm():
    """The real embedded model, loaded once for the whole test session."""
    from promptsearch.lm import load_lm
    return load_lm("smollm2", device="cpu")


@pytest.fixture
def real_model(monkeypatch, smollm):
    """Every model the CLI or the API loads is the real embedded model, loaded once per session
    (the same seam as fake_model). Returns it."""
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)
    return smollm


@pytest.fixture
def fake_model(monkeypatch, fake_lm):
    """Every model the CLI or the API loads is the scripted fake LM (one seam: the service layer's
    load_model). Returns the fake, to count its calls."""
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: fake_lm)
    return fake_lm
