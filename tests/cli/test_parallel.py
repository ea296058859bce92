"""`optimize --parallel-candidates` end to end on the real embedded model and real SQLite: the same
trials as k = 1 under the random sampler, kept by resume, refused with a pruner, and a process
SIGKILLed mid-batch that resumes without losing a told trial."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from promptsearch.cli.main import main
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
SPACE = """name: small
instructions:
  - "Classify the {inputs}. Answer with one of: {labels}."
  - "Is the {inputs} {labels}?"
  - ""
demos:
  counts: [0, 2]
  selection: [random, stratified]
  draws: 2
templates: [plain, chat]
seed: 0
"""


def _trials(db: str, name: str) -> list[tuple]:
    store = Store(db, create=False)
    study = store.load_study(store.get_search(name))
    out = [(t.number, t.state.name, t.params, t.value) for t in study.get_trials(deepcopy=False)]
    store.engine.dispose()
    return out


def test_same_trials_as_one_at_a_time_and_resume_keeps_k(tmp_path, capsys, smollm):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    # 4 dev examples: the comparison is per trial (same points, same scores), not about the set's size
    common = [str(TASK), "--space", str(space), "--trials", "6", "--dev-limit", "4", "--sampler", "random",
              "--seed", "4", "--name", "p"]
    one, four = f"sqlite:///{tmp_path}/one.db", f"sqlite:///{tmp_path}/four.db"
    assert main(["optimize", *common, "--db", one]) == 0
    assert main(["optimize", *common, "--parallel-candidates", "4", "--db", four]) == 0
    assert "Leaderboard" in capsys.readouterr().out
    assert _trials(four, "p") == _trials(one, "p")  # same points, same scores (random sampler)

    assert main(["resume", "p", "--trials", "3", "--db", four]) == 0
    assert main(["resume", "p", "--trials", "3", "--db", one]) == 0
    assert _trials(four, "p") == _trials(one, "p")
    assert main(["show", "p", "--db", four]) == 0
    out = capsys.readouterr().out
    assert "parallel_candidates" in out and "complete 9" in out


def test_a_pruner_or_a_bad_k_is_one_line_and_writes_nothing(tmp_path, capsys):
    db_path = tmp_path / "e.db"
    for flags, message in ((["--parallel-candidates", "2", "--pruner", "halving"],
                            "--parallel-candidates: must be 1 with a pruner"),
                           (["--parallel-candidates", "0"], "--parallel-candidates must be at least 1")):
        code = main(["optimize", str(TASK), "--trials", "2", *flags, "--db", f"sqlite:///{db_path}"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not db_path.exists() or not _names(db_path)


def _names(db_path: Path) -> list:
    with sqlite3.connect(db_path) as con:
        try:
            return con.execute("SELECT name FROM ps_searches").fetchall()
        except sqlite3.OperationalError:
            return []


def _states(db_path: Path) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as con:
            return [s for (s,) in con.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.OperationalError:
        return []


def test_sigkill_mid_batch_then_resume_loses_nothing(tmp_path):
    """Killed as soon as the first batch's first trial is told: the batch's other trials are left
    RUNNING (or the next batch's, if it got that far); resume fails them, queues their points
    again, and reaches the count."""
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    db_path = tmp_path / "kill.db"
    db = f"sqlite:///{db_path}"
    proc = subprocess.Popen([sys.executable, "-m", "promptsearch", "optimize", str(TASK), "--space", str(space),
                             "--trials", "40", "--name", "k", "--dev-limit", "8", "--parallel-candidates", "4",
                             "--sampler", "random", "--db", db],
                            cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while "COMPLETE" not in _states(db_path) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _trials(db, "k")
    told = [t for t in before if t[1] == "COMPLETE"]
    running = [t[0] for t in before if t[1] == "RUNNING"]
    assert told and running, before  # killed mid-batch

    assert main(["resume", "k", "--trials", "6", "--db", db]) == 0
    after = _trials(db, "k")
    assert [t for t in after if t[0] in {n for n, *_ in told}] == told  # nothing told was lost
    assert all(after[n][1] == "FAIL" for n in running)
    assert sum(t[1] == "COMPLETE" for t in after) == len(told) + 6
    assert not [t for t in after if t[1] in ("RUNNING", "WAITING")]
    store = Store(db, create=False)
    retried = [t.system_attrs["retry_history"][-1] for t in store.load_study(store.get_search("k")).get_trials()
               if t.system_attrs.get("retry_history")]
    assert sorted(retried) == running  # each point that died mid-batch was queued again and run
