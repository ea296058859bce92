"""A database is one file (issue 25, class 2): a command that exits cleanly leaves the SQLite
database as its .db file alone (the WAL checkpointed in), reading commands see every commit even on
read-only media, a file that is not ours is not changed, and `db backup` (SQLite's backup API) is
the way to copy a database. Commands run as processes of their own, as a user runs them."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dbfaults import file_hash

import promptsearch as ps
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
# The CLI in a process of its own, with the fake model for searches made with model 'fake'.
_CLI = """
import sys
sys.path.insert(0, "tests")
from psfakes import FakeLM
import promptsearch.service.models
promptsearch.service.models.load_model = lambda spec=None, **kw: FakeLM()
from promptsearch.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def cli(*argv: str, real: bool = False, timeout: int = 300) -> subprocess.CompletedProcess:
    code = ["-m", "promptsearch"] if real else ["-c", _CLI]
    done = subprocess.run([sys.executable, *code, *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    return done


def files_of(db: Path) -> list[str]:
    """The database's files (the empty .lock of parallel workers holds no data)."""
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name) and p.suffix != ".lock")


@pytest.fixture
def db(tmp_path, tiny_task, tiny_space, fake_lm) -> Path:
    """'done' (2 completed trials) and 'empty' (none), made with model 'fake', closed: one file."""
    path = tmp_path / "data" / "e.db"
    path.parent.mkdir()
    store = Store(f"sqlite:///{path}")
    task, space = load_task(tiny_task), load_space(tiny_space)
    run_trials(store, new_search(store, "done", task, space, "fake", SearchSettings()), fake_lm, 2)
    new_search(store, "empty", task, space, "fake", SearchSettings())
    store.close()
    assert files_of(path) == ["e.db"]
    return path


def completed(db: Path, name: str) -> int:
    store = Store(f"sqlite:///{db}", create=False, read_only=True)
    try:
        return len(ps.leaderboard(store, name, None))
    finally:
        store.close()


def test_a_real_search_is_in_its_db_file_alone(tmp_path):
    """optimize on the embedded model; then the .db file copied alone holds the search."""
    db = tmp_path / "db" / "p.db"
    done = cli("optimize", str(ROOT / "examples" / "review_sentiment.yaml"), "--trials", "2", "--dev-limit", "4",
               "--name", "s", "--db", f"sqlite:///{db}", real=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert files_of(db) == ["p.db"]
    copy = tmp_path / "copy" / "p.db"
    copy.parent.mkdir()
    shutil.copyfile(db, copy)  # the .db alone, as a user copies it
    listed = cli("list", "--db", f"sqlite:///{copy}", real=True)
    assert listed.returncode == 0 and " s " in listed.stdout and "does not exist" not in listed.stdout, listed
    shown = cli("show", "s", "--db", f"sqlite:///{copy}", real=True)
    assert shown.returncode == 0 and "complete" in shown.stdout, shown.stderr
    assert completed(copy, "s") == 2
    backup = tmp_path / "backup.db"
    done = cli("db", "backup", "s", "-o", str(backup), "--db", f"sqlite:///{db}", real=True)
    assert done.returncode == 0, done.stderr
    assert completed(backup, "s") == 2 and files_of(backup) == ["backup.db"]


@pytest.mark.parametrize("argv", [["resume", "done", "--trials", "1"], ["worker", "done", "--trials", "1"],
                                  ["list"], ["show", "done"], ["export", "done"], ["eval", "done", "--limit", "2"],
                                  ["db", "upgrade"]], ids=lambda a: a[0])
def test_every_command_leaves_one_file(argv, db):
    done = cli(*argv, "--db", f"sqlite:///{db}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert files_of(db) == ["e.db"]


def test_a_search_killed_mid_write_is_read_from_its_wal_on_read_only_media(db, tmp_path):
    """.db and -wal (no -shm), as a killed process or a copy of both leaves them, on a read-only
    file system: every commit is seen (reading the .db as immutable alone would show none)."""
    kill = ("import os, sys\nsys.path.insert(0, 'tests')\nfrom psfakes import FakeLM\n"
            "from promptsearch.storage import Store\nfrom promptsearch.search import run_trials\n"
            f"s = Store('sqlite:///{db}', create=False)\nrun_trials(s, s.get_search('empty'), FakeLM(), 2)\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", kill], cwd=ROOT, check=True, capture_output=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "e.db-wal" in files_of(db) and Path(f"{db}-wal").stat().st_size > 0
    with read_only_folder(tmp_path / "ro", db, Path(f"{db}-wal")) as copy:
        before = file_hash(copy)
        listed = cli("list", "--db", f"sqlite:///{copy}")
        assert listed.returncode == 0, listed.stderr
        rows = [line for line in listed.stdout.splitlines() if " empty " in line]
        assert rows and " 2 " in rows[0], listed.stdout  # the trials that are only in the -wal
        shown = cli("show", "empty", "--db", f"sqlite:///{copy}")
        assert shown.returncode == 0 and "no completed trials" not in shown.stdout, shown.stdout
        assert file_hash(copy) == before


@contextmanager
def read_only_folder(folder: Path, *files: Path) -> Iterator[Path]:
    """`files` copied into `folder`, which then cannot be written (a read-only tmpfs as root, else
    modes); the first file's copy."""
    folder.mkdir()
    mounted = os.geteuid() == 0
    if mounted and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                                  capture_output=True).returncode != 0:
        pytest.skip("root, but cannot mount a tmpfs")
    try:
        for f in files:
            shutil.copyfile(f, folder / f.name)
        if mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
        else:
            for f in files:
                (folder / f.name).chmod(0o444)
            folder.chmod(0o555)
        yield folder / files[0].name
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def _foreign(path: Path, wal: bool) -> Path:
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE notes (text TEXT)")
    con.execute("INSERT INTO notes VALUES ('keep me')")
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("argv", [["resume", "x", "--trials", "1"], ["worker", "x"], ["db", "upgrade"],
                                  ["db", "backup", "--all", "-o", "{tmp}/b.db"], ["list"]], ids=lambda a: a[0])
def test_a_file_that_is_not_ours_is_not_changed(argv, tmp_path):
    path = _foreign(tmp_path / "notes.db", wal=False)
    before = file_hash(path)
    done = cli(*[a.replace("{tmp}", str(tmp_path)) for a in argv], "--db", f"sqlite:///{path}")
    assert done.returncode == 2 and "is not a promptsearch database" in done.stderr, done.stderr
    assert file_hash(path) == before
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert files_of(path) == ["notes.db"] and not (tmp_path / "b.db").exists()


def test_optimize_refuses_a_file_that_is_not_ours_unchanged(tmp_path, tiny_task, tiny_space):
    path = _foreign(tmp_path / "notes.db", wal=False)
    before = file_hash(path)
    done = cli("optimize", str(tiny_task), "--space", str(tiny_space), "--db", f"sqlite:///{path}")
    assert done.returncode == 2 and "is not a promptsearch database" in done.stderr
    assert file_hash(path) == before and files_of(path) == ["notes.db"]


def test_backup_of_one_search_holds_it_alone_in_one_file(db, tmp_path):
    out = tmp_path / "one.db"
    assert ps.backup_database(f"sqlite:///{db}", out, "done") == out
    assert files_of(out) == ["one.db"]
    assert sqlite3.connect(out).execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    store = Store(f"sqlite:///{out}", create=False, read_only=True)
    assert [r.name for r in store.list_searches()] == ["done"]
    assert [s.study_name for s in store.optuna.get_all_studies()] == ["promptsearch:done"]
    store.close()
    assert completed(out, "done") == 2
    every = tmp_path / "all.db"
    done = cli("db", "backup", "--all", "-o", str(every), "--db", f"sqlite:///{db}")
    assert done.returncode == 0 and "backed up every search" in done.stdout, done.stderr
    with read_only_folder(tmp_path / "ro", every) as copy:  # a backup is readable where it cannot be written
        listed = cli("list", "--db", f"sqlite:///{copy}")
        assert listed.returncode == 0 and " done " in listed.stdout and " empty " in listed.stdout, listed


def test_backup_while_a_search_writes_is_consistent(db, tmp_path, fake_lm):
    """A writer holds the database open with commits in its WAL; the backup has them all."""
    store = Store(f"sqlite:///{db}", create=False)
    run_trials(store, store.get_search("empty"), fake_lm, 2)
    assert Path(f"{db}-wal").exists()  # still open: the commits may be in the WAL only
    out = tmp_path / "b.db"
    ps.backup_database(f"sqlite:///{db}", out)
    store.close()
    assert completed(out, "empty") == 2 and completed(out, "done") == 2
    with pytest.raises(ps.UserError, match="exists; pass overwrite=True"):
        ps.backup_database(f"sqlite:///{db}", out)


def test_the_python_api_does_not_add_tables_to_a_file_that_is_not_ours(tmp_path):
    path = _foreign(tmp_path / "notes.db", wal=False)
    before = file_hash(path)
    with pytest.raises(ps.UserError, match="is not a promptsearch database"):
        ps.Store(f"sqlite:///{path}")  # create=True: an empty or new file would get our tables
    assert file_hash(path) == before and files_of(path) == ["notes.db"]


def test_closing_a_database_just_created_does_not_wait_out_the_busy_timeout(tmp_path):
    """Store.close checkpointed while Optuna's pooled connections were still open, and SQLite's
    TRUNCATE checkpoint waited for them until its 30 s busy timeout: a hang, not a speed. The
    bound is a third of that timeout, far above what the close itself costs on any machine."""
    import time

    store = Store(f"sqlite:///{tmp_path}/new.db")
    start = time.monotonic()
    store.close()
    assert time.monotonic() - start < 10
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(("-wal", "-shm"))]  # still one file
