"""End to end on the real embedded model and a real SQLite file: optimize, resume, show, list,
export; and a search SIGKILLed mid-run that resumes without losing a completed trial."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptsearch.cli.main import main
from promptsearch.search.results import best, completed_trials, trial_counts
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
GEN_TASK = ROOT / "examples" / "city_extraction.yaml"
SPACE = ROOT / "search_spaces" / "default.yaml"


def test_optimize_resume_show_list_export(tmp_path, capsys, smollm):
    db = f"sqlite:///{tmp_path}/e2e.db"
    args = ["--db", db]
    assert main(["optimize", str(TASK), "--space", str(SPACE), "--trials", "4", "--name", "e2e",
                 "--dev-limit", "6", "--seed", "3", *args]) == 0
    out = capsys.readouterr().out
    assert "Leaderboard" in out and "Best prompt" in out and "examples/s" in out

    assert main(["resume", "e2e", "--trials", "2", *args]) == 0
    capsys.readouterr()

    out_file = tmp_path / "best.json"
    assert main(["export", "e2e", "--format", "json", "-o", str(out_file), *args]) == 0
    exported = json.loads(out_file.read_text())

    store = Store(db, create=False)
    record = store.get_search("e2e")
    assert record.settings["dev_limit"] == 6 and record.settings["seed"] == 3
    top = best(store, record)
    assert exported["trials"] == 6 == len(completed_trials(store, record))
    assert exported["score"] == top.score and exported["instruction"] == top.candidate.instruction
    assert exported["prompt"] == top.candidate.prompt and "{review}" in exported["prompt"]
    assert exported["demos"] == top.candidate.demos
    assert all(set(d) == {"review", "label"} for d in exported["demos"])
    assert exported["metric"] == "accuracy" and exported["split"] == "dev" and exported["model"] == "smollm2"
    assert exported["dev_examples"] == 6
    for key in ("name", "cot_trigger", "template"):
        assert key in exported

    assert main(["export", "e2e", "--format", "text", *args]) == 0
    assert capsys.readouterr().out == top.candidate.prompt

    assert main(["show", "e2e", *args]) == 0
    out = capsys.readouterr().out
    assert "complete 6" in out and "dev_limit" in out and "Leaderboard" in out
    assert main(["list", *args]) == 0
    out = capsys.readouterr().out
    assert "e2e" in out and f"{top.score:.4f}" in out


def test_exported_prompt_reproduces_the_score(tmp_path, smollm):
    """Fill the exported text prompt by hand, rank the labels with the model: same dev score."""
    from promptsearch.config import load_task
    from promptsearch.data import load_split
    from promptsearch.lm.base import LoglikelihoodRequest

    db = f"sqlite:///{tmp_path}/r.db"
    assert main(["optimize", str(TASK), "--space", str(SPACE), "--trials", "2", "--name", "r",
                 "--dev-limit", "10", "--db", db]) == 0
    out = tmp_path / "best.json"
    assert main(["export", "r", "--format", "json", "-o", str(out), "--db", db]) == 0
    exported = json.loads(out.read_text())
    task = load_task(TASK)
    dev = load_split(task, "dev", 10)
    correct = 0
    for ex in dev:
        context = exported["prompt"].replace("{review}", ex["review"])
        scores = smollm.loglikelihood([LoglikelihoodRequest(context, exported["answer_prefix"] + label)
                                       for label in task.labels])
        predicted = task.labels[max(range(len(scores)), key=lambda i: scores[i].logprob)]
        correct += predicted == ex["label"]
    assert correct / len(dev) == pytest.approx(exported["score"])


def test_generation_task_end_to_end(tmp_path, capsys, smollm):
    db = f"sqlite:///{tmp_path}/g.db"
    assert main(["optimize", str(GEN_TASK), "--space", str(ROOT / "search_spaces" / "extraction.yaml"),
                 "--trials", "2", "--name", "gen", "--dev-limit", "6", "--max-new-tokens", "8",
                 "--db", db]) == 0
    store = Store(db, create=False)
    record = store.get_search("gen")
    assert trial_counts(store, record)["complete"] == 2
    assert 0.0 <= best(store, record).score <= 1.0


def _complete_trials(db_path: Path) -> int:
    try:
        con = sqlite3.connect(db_path, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_resume_loses_no_completed_trial(tmp_path):
    db_path = tmp_path / "crash.db"
    db = f"sqlite:///{db_path}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # 8 dev examples: a trial lasts seconds, so the kill (within 0.2 s of the second trial's
    # commit) lands while the third runs
    proc = subprocess.Popen([sys.executable, "-m", "promptsearch", "optimize", str(TASK), "--space", str(SPACE),
                             "--trials", "200", "--name", "crash", "--dev-limit", "8", "--db", db],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while _complete_trials(db_path) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _complete_trials(db_path)
    assert before >= 2

    assert main(["resume", "crash", "--trials", "2", "--db", db]) == 0
    store = Store(db, create=False)
    record = store.get_search("crash")
    counts = trial_counts(store, record)
    assert counts["complete"] == before + 2
    assert counts["running"] == 0
