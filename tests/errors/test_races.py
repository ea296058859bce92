"""Two commands creating the same search on a new database at once (issue 25, class 9): one wins,
the other gets the usual duplicate-name line (with `--trials`), never an SQL constraint, and the
winner's search keeps its study."""
from __future__ import annotations

import multiprocessing as mp
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _create(url: str, barrier, queue) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from promptsearch.errors import UserError
    from promptsearch.storage import Store
    barrier.wait()
    try:
        store = Store(url)
        store.add_search("same", {"name": "t"}, {"name": "s"}, "fake", {})
        queue.put("created")
    except UserError as e:
        queue.put(f"error: {e}")
    except Exception as e:
        queue.put(f"BUG {type(e).__name__}: {e}")


@pytest.mark.parametrize("round_", range(2))
def test_two_creators_of_one_name_on_a_new_database(tmp_path, round_):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_create, args=(url, barrier, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    results = sorted(queue.get(timeout=5) for _ in procs)
    assert results.count("created") == 1, results
    for r in results:
        if r != "created":
            assert r == (f"error: a search named 'same' already exists in {url}; continue it with "
                         f"`promptsearch resume same --trials N` or choose another --name"), results
    from promptsearch.storage import Store
    store = Store(url, create=False)
    record = store.get_search("same")
    assert store.load_study(record) is not None  # the winner's study was not deleted by a loser


def test_every_suggested_resume_has_trials():
    """`resume` refuses to run without --trials: no message may suggest it bare."""
    import re
    bare = []
    for path in (ROOT / "promptsearch").rglob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for m in re.finditer(r"promptsearch resume [^`\"']*", line):
                if "--trials" not in m.group(0) and "{resume_command" not in line:
                    bare.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)}")
    assert [b for b in bare if "api.py" not in b] == []
