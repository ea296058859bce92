"""Worker processes with the real embedded model: 4 workers x 10 trials on SQLite, three workers
on PostgreSQL (as on three machines) with one SIGKILLed halfway, and `optimize --workers` as a
user runs it.

The workers of the first two tests are forked from a process that loaded the model once
(tests/crash/zygote.py): separate processes with their own database connections, running
`promptsearch worker NAME` through the real CLI, without paying a model load each.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from workerdb import PG_URL, needs_pg, unique_name

from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search
from promptsearch.search.results import trial_counts
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "crash"))
from zygote import Zygote  # noqa: E402

TASK = ROOT / "examples" / "review_sentiment.yaml"
# Few instructions: workers that start together propose the same ones; enough candidates (90) for
# 40 distinct trials (a candidate already scored, or being scored, is not scored again).
SPACE = """name: workers
instructions:
  - "Classify the {inputs}. Answer with one of: {labels}."
  - "Is the {inputs} {labels}?"
  - ""
  - "Sentiment of the {inputs}?"
  - "Label the {inputs}."
demos:
  counts: [0, 1, 2]
  selection: [random, stratified]
templates: [plain, chat]
"""


def _search(url: str, tmp_path: Path, name: str, target: int):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    store = Store(url)
    record = new_search(store, name, load_task(TASK), load_space(space), "smollm2", SearchSettings(dev_limit=2))
    store.set_trial_target(record, target)
    return store, record


@pytest.mark.slow
def test_four_workers_times_ten_trials_on_sqlite(tmp_path):
    db_path = tmp_path / "w.db"
    url = f"sqlite:///{db_path}"
    store, record = _search(url, tmp_path, "four", 40)
    zygote = Zygote.shared()
    start = time.monotonic()
    pids = [zygote.start(["worker", "four", "--db", url], tmp_path / f"w{i}.err") for i in range(4)]
    codes = [zygote.wait(pid) for pid in pids]
    seconds = time.monotonic() - start
    assert codes == [0] * 4, [(tmp_path / f"w{i}.err").read_text()[-2000:] for i in range(4)]
    con = sqlite3.connect(db_path)
    counts = trial_counts(store, record)
    assert counts["complete"] == 40 and counts["fail"] == counts["running"] == 0, counts
    per_worker = [n for _, n in con.execute(
        "SELECT json_extract(owner, '$.pid'), COUNT(*) FROM ps_trial_owners GROUP BY 1")]
    evaluations, distinct = con.execute(
        "SELECT COUNT(*), COUNT(DISTINCT model || prompt_hash || decoding || example_id) "
        "FROM ps_evaluations").fetchone()
    candidates = con.execute("SELECT COUNT(DISTINCT prompt_hash) FROM ps_candidates").fetchone()[0]
    assert evaluations == distinct == 2 * candidates  # each candidate's 2 dev examples stored once
    assert sum(per_worker) == 40 + counts["repeat"] and len(per_worker) >= 2, per_worker
    print(f"\n4 workers on SQLite: 40 trials complete (per worker {sorted(per_worker)}), 0 failed, "
          f"{candidates} candidates, {evaluations} evaluations, {seconds:.0f}s")


@needs_pg
@pytest.mark.slow
def test_three_workers_on_postgres_survive_one_killed(tmp_path):
    name, target = unique_name("pg"), 12
    store, record = _search(PG_URL, tmp_path, name, target)
    zygote = Zygote.shared()
    start = time.monotonic()
    # three "machines": the heartbeat decides who is dead, not the process id
    pids = [zygote.start(["worker", name, "--heartbeat", "1", "--grace", "4"], tmp_path / f"w{i}.err",
                         env={"PROMPTSEARCH_DB": PG_URL, "PROMPTSEARCH_MACHINE_ID": f"machine-{i}"})
            for i in range(3)]
    victim = pids[0]
    deadline = time.monotonic() + 300
    while True:  # kill the victim halfway, while it runs a trial
        assert time.monotonic() < deadline, (tmp_path / "w0.err").read_text()[-2000:]
        if store.slot_counts(record)[1] >= target // 2:
            os.kill(victim, signal.SIGSTOP)  # frozen: it cannot finish its trial between the look and the kill
            if _running_under(store, record, victim):
                break
            os.kill(victim, signal.SIGCONT)
        time.sleep(0.05)
    os.kill(victim, signal.SIGKILL)
    killed_at = store.slot_counts(record)[1]
    codes = [zygote.wait(pid) for pid in pids]
    seconds = time.monotonic() - start
    assert codes == [-signal.SIGKILL, 0, 0], [(tmp_path / f"w{i}.err").read_text()[-2000:] for i in range(3)]
    counts = trial_counts(store, record)
    assert counts["complete"] + counts["pruned"] == target
    assert counts["running"] == counts["waiting"] == 0 and counts["fail"] == 1
    study = store.load_study(record)
    failed = next(t for t in study.trials if t.state.name == "FAIL" and "repeat_of" not in t.user_attrs)
    retry = next(t for t in study.trials if t.system_attrs.get("retry_history") == [failed.number])
    assert retry.state.name == "COMPLETE" and all(retry.params[k] == v for k, v in failed.params.items())
    print(f"\n3 workers on PostgreSQL, one killed at {killed_at}/{target}: {target} trials complete, "
          f"trial {failed.number} failed and retried as trial {retry.number}, {seconds:.0f}s")


@pytest.mark.slow
def test_optimize_starts_worker_processes(tmp_path):
    """What a user runs: the command creates the search and starts real worker processes."""
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    db_path = tmp_path / "o.db"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "promptsearch", "optimize", str(TASK), "--space", str(space),
                           "--trials", "4", "--workers", "2", "--name", "two", "--dev-limit", "2",
                           "--db", f"sqlite:///{db_path}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 of 4 trials finished by 2 workers" in done.stdout and "Best prompt" in done.stdout
    store = Store(f"sqlite:///{db_path}")
    counts = trial_counts(store, store.get_search("two"))
    store.close()
    # Two workers that start together may sample the same candidate: the second keeps it as a
    # `repeat` (failed, never scored, not counted) and asks again. Any other failure is a bug.
    assert counts["complete"] == 4 and counts["fail"] == counts["running"] == counts["waiting"] == 0, counts
    print(f"\noptimize --workers 2: 4 trials complete, {counts['repeat']} repeats, "
          f"{time.monotonic() - start:.0f}s")


def _running_under(store: Store, record, pid: int) -> bool:
    running = [t.number for t in store.load_study(record).get_trials(deepcopy=False) if t.state.name == "RUNNING"]
    return any(o.owner.get("pid") == pid for o in store.owners.look(record.id, running).values()
               if o.number in running)
