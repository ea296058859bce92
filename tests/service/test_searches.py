"""The checked-search builder: one command parses each data file once (issue 23, item 5).

Before the builder, one `optimize` parsed train and dev five times and test four times (checks,
data fingerprint, context check, preflight, the run); `plan` four, `resume` three."""
from __future__ import annotations

import collections
from pathlib import Path

import pytest

from promptsearch import service
from promptsearch.data import dataset
from promptsearch.search import SearchSettings

TASK = "examples/review_sentiment.yaml"
SPACE = "search_spaces/default.yaml"


@pytest.fixture
def parses(monkeypatch) -> collections.Counter:
    """How many times each data file is parsed (by file name)."""
    counts: collections.Counter = collections.Counter()
    parse = dataset._parse_file

    def counting(path: Path):
        counts[Path(path).name] += 1
        return parse(path)
    monkeypatch.setattr(dataset, "_parse_file", counting)
    return counts


ONCE = {"train.jsonl": 1, "dev.jsonl": 1, "test.jsonl": 1}


def test_optimize_resume_and_plan_parse_each_data_file_once(tmp_path, parses):
    db = f"sqlite:///{tmp_path}/s.db"
    settings = SearchSettings(dev_limit=4)
    result = service.optimize(db, TASK, SPACE, trials=1, settings=settings)
    assert result.summary is not None and result.summary.completed == 1
    assert dict(parses) == ONCE
    parses.clear()
    lm = service.load_model("smollm2")
    service.resume(db, result.record.name, 1, lm=lm)
    assert dict(parses) == ONCE
    parses.clear()
    plan = service.plan(f"sqlite:///{tmp_path}/p.db", TASK, SPACE, trials=2, settings=settings, lm=lm)
    assert plan.per_trial.calls > 0
    assert dict(parses) == ONCE
    assert not (tmp_path / "p.db").exists()


def test_a_file_changed_between_commands_is_read_again(tmp_path, parses):
    """The scope is one command: outside it nothing is kept, so a second read sees the file as it is."""
    task = service.as_task(TASK)
    with dataset.read_once():
        dataset.load_split(task, "dev")
        dataset.load_split(task, "dev")
    assert parses["dev.jsonl"] == 1
    dataset.load_split(task, "dev")
    assert parses["dev.jsonl"] == 2
