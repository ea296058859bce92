"""Worker processes with the real embedded model: `optimize --workers 4` on SQLite, and three
`promptsearch worker` processes on PostgreSQL (as on three machines) with one SIGKILLed halfway."""
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
from promptsearch.search import SearchSettings, create_search
from promptsearch.search.results import trial_counts
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
# Few candidates: workers that start together propose the same ones and score them at once.
SPACE = """name: workers
instructions:
  - "Classify the {inputs}. Answer with one of: {labels}."
  - "Is the {inputs} {labels}?"
  - ""
demos:
  counts: [0, 1]
  selection: [random]
templates: [plain]
"""


def _env(**extra: str) -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **extra}


@pytest.mark.slow
def test_four_workers_times_ten_trials_on_sqlite(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    db_path = tmp_path / "w.db"
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "promptsearch", "optimize", str(TASK), "--space", str(space),
                           "--trials", "40", "--workers", "4", "--name", "four", "--dev-limit", "2",
                           "--db", f"sqlite:///{db_path}"], cwd=ROOT, env=_env(), capture_output=True,
                          text=True, timeout=600)
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    con = sqlite3.connect(db_path)
    states = dict(con.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    assert states == {"COMPLETE": 40}, states
    owners = con.execute("SELECT COUNT(DISTINCT json_extract(value_json, '$.pid')) FROM trial_system_attributes "
                         "WHERE key = 'promptsearch:owner'").fetchone()[0]
    evaluations, distinct = con.execute(
        "SELECT COUNT(*), COUNT(DISTINCT model || prompt_hash || decoding || example_id) FROM ps_evaluations").fetchone()
    candidates = con.execute("SELECT COUNT(DISTINCT prompt_hash) FROM ps_candidates").fetchone()[0]
    assert evaluations == distinct == 2 * candidates  # each candidate scored once on the 2 dev examples
    assert owners >= 2, "the trials should be spread over the workers"
    print(f"\n4 workers: 40 trials complete, 0 failed, {candidates} candidates, {owners} workers "
          f"ran trials, {seconds:.0f}s")


@needs_pg
@pytest.mark.slow
def test_three_workers_on_postgres_survive_one_killed(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    name, target = unique_name("pg"), 12
    store = Store(PG_URL)
    record = create_search(store, name, load_task(TASK), load_space(space), "smollm2", SearchSettings(dev_limit=2))
    store.set_trial_target(record, target)
    start = time.monotonic()
    # three "machines": heartbeats decide who is dead, not process ids
    workers = [subprocess.Popen([sys.executable, "-m", "promptsearch", "worker", name, "--heartbeat", "1",
                                 "--grace", "4"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=_env(PROMPTSEARCH_DB=PG_URL, PROMPTSEARCH_MACHINE_ID=f"machine-{i}",
                                         OMP_NUM_THREADS="1"))
               for i in range(3)]
    try:
        victim = workers[0]
        deadline = time.monotonic() + 400
        while not (_finished(store, record) >= target // 2 and _running_under(store, record, victim.pid)):
            assert time.monotonic() < deadline and victim.poll() is None, victim.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = _finished(store, record)
        for w in workers[1:]:
            _, err = w.communicate(timeout=400)
            assert w.returncode == 0, err.decode()[-3000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    seconds = time.monotonic() - start
    counts = trial_counts(store, record)
    assert counts["complete"] + counts["pruned"] == target
    assert counts["running"] == counts["waiting"] == 0 and counts["fail"] == 1
    study = store.load_study(record)
    failed = next(t for t in study.trials if t.state.name == "FAIL")
    retry = next(t for t in study.trials if t.system_attrs.get("retry_history") == [failed.number])
    assert retry.state.name == "COMPLETE" and all(retry.params[k] == v for k, v in failed.params.items())
    print(f"\n3 workers on PostgreSQL, one killed at {killed_at}/{target}: {target} trials complete, "
          f"trial {failed.number} failed and retried as {retry.number}, {seconds:.0f}s")


def _finished(store: Store, record) -> int:
    return store.slot_counts(record)[1]


def _running_under(store: Store, record, pid: int) -> bool:
    study = store.load_study(record)
    return any(t.state.name == "RUNNING" and t.system_attrs.get("promptsearch:owner", {}).get("pid") == pid
               for t in study.get_trials(deepcopy=False))
