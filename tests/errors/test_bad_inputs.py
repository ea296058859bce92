"""Every bad input in docs/errors.md gives exactly its documented one-line error and exit code,
no traceback, and leaves the database as it was (same content; an absent one stays absent)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from dbfaults import file_hash, read_only_copy
from errorcases import CASES, DB_OVERRIDES, FAILED_TRIAL, PG_WITH_PASSWORD, READ_ONLY, SUBPROCESS, V1_DB, Ctx

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.service import models
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "errors.md"
ROW = re.compile(r"^\|\s*`([a-z0-9-]+)`\s*\|(.*)\|\s*``\s(.*)\s``\s*\|\s*(\d+)\s*\|\s*$")


def documented() -> dict[str, tuple[str, int]]:
    """id -> (error line, exit code) from the table in docs/errors.md."""
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is in docs/errors.md twice"
            rows[m.group(1)] = (m.group(3), int(m.group(4)))
    return rows


DOCUMENTED = documented()


def test_the_table_and_the_cases_match():
    assert len(DOCUMENTED) >= 25
    assert set(DOCUMENTED) == set(CASES), set(DOCUMENTED) ^ set(CASES)


def db_content(path: Path) -> str:
    """What the database holds (not its bytes: SQLite may rewrite its WAL and index files)."""
    if not path.exists():
        return "absent"
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


@pytest.fixture(scope="module")
def db_template(tmp_path_factory) -> Path:
    """A database holding one finished search named 'done' and one empty search 'empty'."""
    root = _root_conftest()
    FakeLM, sentiment_rows, write_jsonl = root.FakeLM, root.sentiment_rows, root.write_jsonl

    d = tmp_path_factory.mktemp("template")
    for split, n, offset in (("train", 12, 0), ("dev", 6, 100), ("test", 6, 200)):
        write_jsonl(d / f"{split}.jsonl", sentiment_rows(n, offset))
    (d / "task.yaml").write_text("name: tiny\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [review]\noutput: label\nmetric: accuracy\nlabels: [negative, positive]\n")
    (d / "space.yaml").write_text("name: tiny\ninstructions: ['Classify as {labels}.', 'Sentiment?']\n")
    path = d / "e.db"
    store = Store(f"sqlite:///{path}")
    task, space = load_task(d / "task.yaml"), load_space(d / "space.yaml")
    rec = new_search(store, "done", task, space, "fake", SearchSettings())
    store.set_trial_target(rec, 2)
    run_trials(store, rec, FakeLM(), 2)
    new_search(store, "empty", task, space, "fake", SearchSettings())
    store.close()  # checkpoints the WAL into the file
    return path


def _root_conftest():
    """tests/conftest.py's helpers, loaded by path: `import conftest` could find another one."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("promptsearch_tests_root_conftest", ROOT / "tests" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def db(db_template, tmp_path) -> Path:
    path = tmp_path / "e.db"
    shutil.copy(db_template, path)
    return path


def _expected(case: str, tmp: Path) -> re.Pattern:
    message, _ = DOCUMENTED[case]
    parts = [re.escape(p) for p in message.split("…")]  # … in the docs stands for any text
    return re.compile("^" + ".*".join(parts).replace(re.escape("<dir>"), re.escape(str(tmp))) + "$")


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(case, tmp_path, db, tiny_task, tiny_space, capsys, monkeypatch, request):
    argv = CASES[case](Ctx(tmp_path, tiny_task, tiny_space, db))
    db_path = db
    if DB_OVERRIDES.get(case) == "v1":
        db_path = tmp_path / "old.db"
        shutil.copy(V1_DB, db_path)
    if not any(a.startswith("--db") for a in argv):
        argv += ["--db", f"sqlite:///{db_path}"]
    if case == "data-example-too-long":  # the real tokenizer and context length
        smollm = request.getfixturevalue("smollm")
        capsys.readouterr()  # its loading progress
        monkeypatch.setattr(models, "load_model", lambda spec=None, **kw: smollm)
    elif not case.startswith("model-"):  # model paths go through the real loader
        real = models.load_model  # one loader loads every model: only the task's ("smollm2") is faked,
        monkeypatch.setattr(models, "load_model",  # a judge's model path is loaded for real
                            lambda spec=None, **kw: request.getfixturevalue("fake_lm") if spec in (None, "smollm2")
                            else real(spec, **kw))
    if case in SUBPROCESS:
        code, err, before, after = _run_on_a_full_disk(argv, db_path, tmp_path)
    elif case in READ_ONLY:  # its bytes: SQLite cannot even open it for a dump on a read-only mount
        with read_only_copy(db_path, tmp_path / "ro") as path:
            argv = [a.replace(str(db_path), str(path)) for a in argv]
            before = file_hash(path)
            code = main(argv)
            err = capsys.readouterr().err.strip()
            after = file_hash(path)
    else:
        before = db_content(db_path)
        code = main(argv)
        err = capsys.readouterr().err.strip()
        after = db_content(db_path)
    assert "Traceback" not in err and "\n" not in err, err
    assert _expected(case, tmp_path).match(err), f"{case}: got {err!r}"
    assert code == DOCUMENTED[case][1]
    if case in FAILED_TRIAL:  # the search exists; its one trial failed and is kept as failed
        from promptsearch.search.results import trial_counts
        store = Store(f"sqlite:///{db_path}", create=False)
        assert trial_counts(store, store.get_search("new"))["fail"] == 1
        return
    assert after == before, f"{case} changed the database"


def test_passwords_never_shown(capsys, tmp_path):
    """A failing command against a password-protected URL: the password appears nowhere."""
    for argv in (["show", "x"], ["list"], ["worker", "x"], ["db", "upgrade"], ["export", "x"]):
        assert main([*argv, "--db", PG_WITH_PASSWORD, "-v"]) == 2
        captured = capsys.readouterr()
        assert "s3cret-pw" not in captured.out + captured.err
        assert "bob:***@127.0.0.1:1" in captured.err


# --- the full disk -----------------------------------------------------------------------------

def _run_on_a_full_disk(argv: list[str], db_path: Path, tmp: Path) -> tuple[int, str, str, str]:
    """Put the database on a tiny tmpfs (needs root) and fill the disk; without root, simulate:
    the write raises what SQLite raises on a full disk. Returns (exit code, stderr, database
    content before, after)."""
    mnt = tmp / "mnt"
    mnt.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                                                     capture_output=True).returncode == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    keeper = None
    try:
        if mounted:
            target = mnt / db_path.name
            shutil.copy(db_path, target)
            keeper = sqlite3.connect(target)  # its -wal and -shm exist before the disk fills
            keeper.execute("PRAGMA journal_mode=WAL").fetchone()
            _fill(mnt)
            argv = [a.replace(str(db_path), str(target)) for a in argv]
            db_path = target
        else:
            env["PROMPTSEARCH_TEST_SIMULATE_FULL_DISK"] = "1"
        before = db_content(db_path)
        done = subprocess.run([sys.executable, "-c", _FULL_DISK_RUNNER, *argv], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stderr.strip(), before, db_content(db_path)
    finally:
        if keeper is not None:
            keeper.close()
        if mounted:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


# Runs the CLI. Without a real full disk, the store's writes fail as SQLite fails on one.
_FULL_DISK_RUNNER = """
import os, sqlite3, sys
import sqlalchemy.exc
if os.environ.get("PROMPTSEARCH_TEST_SIMULATE_FULL_DISK"):
    from promptsearch.storage.store import Store
    def full(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("UPDATE", {}, sqlite3.OperationalError("database or disk is full"))
    Store._update_target = full
sys.path.insert(0, "tests")
from psfakes import FakeLM  # the search was made with a fake model: load that one
import promptsearch.service.models
promptsearch.service.models.load_model = lambda spec=None, **kw: FakeLM()
from promptsearch.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_brackets_in_a_message_are_printed(tmp_path, tiny_task, tiny_space, capsys):
    (tiny_task.parent / "dev[fr].jsonl").write_text("")
    tiny_task.write_text(tiny_task.read_text().replace("dev: dev.jsonl", "dev: dev[fr].jsonl"))
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--db", f"sqlite:///{tmp_path}/x.db"]) == 2
    assert "dev[fr].jsonl: the dev split is empty" in capsys.readouterr().err
