"""Reading commands (list, show, export, report, dashboard) open the database read-only: they
change no byte of it, create no table, leave its journal mode alone, and work on a read-only file
or a full disk; a file that is not a promptsearch database is said to be one, in one line.
Commands that write refuse a read-only database before any work."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from dbfaults import file_hash, read_only_copy

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]


def _readers(out: Path) -> list[list[str]]:
    return [["list"], ["show", "done"], ["export", "done", "--format", "json"],
            ["report", "done", "-o", str(out / "r.html"), "--force"], ["dashboard", "done"]]


@pytest.fixture
def served(monkeypatch):
    """optuna-dashboard's server, replaced by one that records what it was given."""
    dashboard = pytest.importorskip("optuna_dashboard")
    seen = []
    monkeypatch.setattr(dashboard, "run_server", lambda storage, host, port: seen.append(storage))
    return seen


@pytest.fixture
def ours(tmp_path, tiny_task, tiny_space, fake_lm) -> Path:
    path = tmp_path / "e.db"
    store = Store(f"sqlite:///{path}")
    rec = new_search(store, "done", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 2)
    store.close()  # the WAL is checkpointed into the file
    return path


def test_reading_commands_change_no_byte(ours, tmp_path, served, capsys):
    before = file_hash(ours)
    for argv in _readers(tmp_path):
        assert main([*argv, "--db", f"sqlite:///{ours}"]) == 0, capsys.readouterr().err
        assert file_hash(ours) == before, argv
    assert len(served) == 1


def _not_ours(path: Path, tmp_path: Path, capsys, said: str) -> None:
    before = file_hash(path)
    for argv in _readers(tmp_path):
        assert main([*argv, "--db", f"sqlite:///{path}"]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err == f"error: database sqlite:///{path} is not a promptsearch database ({said}); " \
                      "pass --db with a database that promptsearch made", argv
        assert file_hash(path) == before, argv
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not WAL


def test_another_applications_file_is_named_and_left_alone(tmp_path, served, capsys):
    path = tmp_path / "notes.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.execute("INSERT INTO notes VALUES ('keep me')")
    con.commit()
    con.close()
    _not_ours(path, tmp_path, capsys, "its tables: notes")
    assert not served


def test_an_optuna_database_is_not_taken_for_ours(tmp_path, served, capsys):
    path = tmp_path / "optuna.db"
    study = optuna.create_study(storage=f"sqlite:///{path}", study_name="theirs")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    _not_ours(path, tmp_path, capsys, "it holds Optuna studies but no promptsearch searches")


def test_reading_commands_work_on_a_read_only_file(ours, tmp_path, served, capsys):
    with read_only_copy(ours, tmp_path / "ro") as path:
        before = file_hash(path)
        for argv in _readers(tmp_path):
            assert main([*argv, "--db", f"sqlite:///{path}"]) == 0, (argv, capsys.readouterr().err)
        assert "done" in capsys.readouterr().out
        assert file_hash(path) == before


def test_writing_commands_refuse_a_read_only_file_before_any_work(ours, tmp_path, capsys, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the database was checked")
    monkeypatch.setattr("promptsearch.service.models.load_model", no_model)
    with read_only_copy(ours, tmp_path / "ro") as path:
        for argv in (["resume", "done", "--trials", "1"], ["worker", "done"], ["worker", "done", "--trials", "2"]):
            assert main([*argv, "--db", f"sqlite:///{path}"]) == 2, argv
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"error: database sqlite:///{path} is read-only (the file cannot be written); ")
            assert "\n" not in err


_READER = "import sys\nfrom promptsearch.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="filling a disk needs a tmpfs of its own (root)")
def test_reading_commands_work_on_a_full_disk(ours, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs")
    try:
        path = mnt / "e.db"
        shutil.copy(ours, path)
        _fill(mnt)
        before = file_hash(path)
        for argv in (["list"], ["show", "done"], ["export", "done"]):  # in a process of their own: a full
            done = subprocess.run([sys.executable, "-c", _READER, *argv, "--db", f"sqlite:///{path}"],  # tmpfs may
                                  cwd=ROOT, capture_output=True, text=True, timeout=120,  # SIGBUS
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert done.returncode == 0, (argv, done.stderr[-2000:])
        assert file_hash(path) == before
    finally:
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
