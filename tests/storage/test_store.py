import sqlite3

import pytest

from promptsearch.errors import ConfigError, NotFoundError, UserError
from promptsearch.evaluate import ExampleResult
from promptsearch.storage import Store, mask_url


def test_create_find_list(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/x.db")
    rec = store.add_search("s1", {"name": "t"}, {"name": "sp"}, "smollm2", {"seed": 1})
    assert store.get_search("s1") == rec
    assert [r.name for r in store.list_searches()] == ["s1"]
    assert store.load_study(rec).study_name == "promptsearch:s1"


def test_duplicate_name_is_refused_and_nothing_written(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/x.db")
    store.add_search("s1", {}, {}, "m", {})
    with pytest.raises(UserError, match=r"already exists.*resume s1"):
        store.add_search("s1", {}, {}, "m", {})
    assert len(store.list_searches()) == 1


def test_unknown_name_lists_known(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/x.db")
    store.add_search("alpha", {}, {}, "m", {})
    with pytest.raises(NotFoundError, match=r"no search named 'beta'.*known: alpha"):
        store.get_search("beta")


def test_read_only_open_does_not_create(tmp_path):
    with pytest.raises(NotFoundError, match="no such file"):
        Store(f"sqlite:///{tmp_path}/missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()


def test_bad_url():
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        Store("not a url")


def test_mask_url():
    assert mask_url("postgresql://bob:secret@host/db") == "postgresql://bob:***@host/db"


def test_evaluation_cache_roundtrip(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/x.db")
    rs = [ExampleResult("e1", "positive", 1.0), ExampleResult("e2", "negative", 0.0)]
    cache = store.evaluations
    cache.put("m", "h", "rank", rs)
    cache.put("m", "h", "rank", rs)  # a second put of the same rows is a no-op, not an error
    assert cache.get("m", "h", "rank", ["e1", "e2", "e3"]) == {r.example_id: r for r in rs}
    assert cache.get("other-model", "h", "rank", ["e1"]) == {}
    assert cache.count() == 2


def test_evaluation_cache_keeps_the_metrics_feedback(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/x.db")
    lost = ExampleResult("e1", "Paris", 0.0, feedback="expected Lyon")
    store.evaluations.put("m", "h", "greedy", [lost, ExampleResult("e2", "Rome", 1.0)])
    got = store.evaluations.get("m", "h", "greedy", ["e1", "e2"])
    assert got["e1"].feedback == "expected Lyon" and got["e2"].feedback is None


def test_sqlite_uses_wal(tmp_path):
    Store(f"sqlite:///{tmp_path}/x.db")
    assert sqlite3.connect(tmp_path / "x.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
