"""Failures of the disk, a model file or user code in the middle of a command (issue 25, class 6):
each ends in one line on stderr and exit 2, never a traceback and never exit 0."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Runs `optimize` on the scripted fake model; after the search exists, the database's disk fails
# the way SQLite reports it (SQLITE_IOERR: "disk I/O error"), at one of two places:
#   store: a write of promptsearch's own tables (the evaluation cache, trial owners, ...)
#   optuna: Optuna's own storage call that records a trial
_RUNNER = """
import sqlite3, sys
import sqlalchemy.exc
sys.path.insert(0, "tests")
from psfakes import FakeLM
import promptsearch.service.models
promptsearch.service.models.load_model = lambda spec=None, **kw: FakeLM()
where, after = sys.argv[1], int(sys.argv[2])
def fault():
    return sqlalchemy.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))
calls = [0]
if where == "store":
    from promptsearch.storage import retry
    original = retry.Sessions.write
    def write(self, fn):
        calls[0] += 1
        if calls[0] > after:
            def failing(session):
                raise fault()
            return original(self, failing)
        return original(self, fn)
    retry.Sessions.write = write
else:
    from optuna.storages import RDBStorage
    original = RDBStorage.set_trial_state_values
    def set_state(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] > after:
            raise fault()
        return original(self, *args, **kwargs)
    RDBStorage.set_trial_state_values = set_state
from promptsearch.cli.main import main
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("where,after", [("store", 3), ("store", 8), ("optuna", 1), ("optuna", 3)])
def test_a_disk_io_error_mid_search_is_one_line(tiny_task, tiny_space, tmp_path, where, after):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = ["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "io", "--trials", "4",
            "--db", f"sqlite:///{tmp_path / 'x.db'}"]
    done = subprocess.run([sys.executable, "-c", _RUNNER, where, str(after), *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    # a logged warning may come first (a trial that could not be marked failed is reclaimed later)
    err = [line for line in done.stderr.strip().splitlines() if not line.startswith("WARNING ")]
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(err) == 1, done.stderr
    assert err[0].startswith("error: ") and "disk I/O error" in err[0] and "run the command again" in err[0]


def test_an_os_error_from_a_lower_layer_is_one_line(monkeypatch, capsys, tiny_task, tiny_space, tmp_path):
    """EIO while a file is read, where no layer turned it into a UserError."""
    import errno

    from promptsearch.cli import main as cli

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", str(tiny_task))

    import promptsearch.data.dataset as dataset
    monkeypatch.setattr(dataset, "_read_rows", broken)
    code = cli.main(["optimize", str(tiny_task), "--space", str(tiny_space), "--db", f"sqlite:///{tmp_path}/x.db"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == (f"error: {tiny_task}: Input/output error (errno 5); check the file and the disk, "
                                 f"then run the command again (completed trials are kept)")


def test_a_bug_keeps_its_traceback(monkeypatch, tiny_task, tiny_space, tmp_path):
    """Only faults of the environment become one line: anything else is a bug and says where."""
    from promptsearch.cli import main as cli

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    import promptsearch.data.dataset as dataset
    monkeypatch.setattr(dataset, "_read_rows", bug)
    with pytest.raises(ZeroDivisionError):
        cli.main(["optimize", str(tiny_task), "--space", str(tiny_space), "--db", f"sqlite:///{tmp_path}/x.db"])
