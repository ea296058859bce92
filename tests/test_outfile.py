"""Outputs never destroy what they point at (promptsearch/outfile.py): regular files only, --force
replaces a regular file and nothing else, never a file SQLite holds for the open database,
written atomically, and bad paths are one-line errors. Through the real CLI, on real SQLite."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.errors import UserError
from promptsearch.outfile import check_output, write_output
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store


@pytest.fixture
def db(tmp_path, tiny_task, tiny_space, fake_lm) -> Path:
    path = tmp_path / "e.db"
    store = Store(f"sqlite:///{path}")
    rec = new_search(store, "done", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 2)
    store.close()
    return path


def _searches(path: Path) -> list[str]:
    store = Store(f"sqlite:///{path}", create=False, read_only=True)
    try:
        return [r.name for r in store.list_searches()]
    finally:
        store.close()


WRITERS = (["export", "done"], ["report", "done"], ["db", "backup", "done"])


def _run(argv: list[str], db: Path, out: str, capsys) -> tuple[int, str]:
    code = main([*argv, "--db", f"sqlite:///{db}", "--force", "-o", out])
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "\n" not in err, err
    return code, err


@pytest.mark.parametrize("argv", WRITERS, ids=lambda a: a[0])
def test_a_fifo_is_refused_and_kept(argv, db, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, err = _run(argv, db, str(fifo), capsys)
    assert code == 2 and err == (f"error: -o: {fifo} is a FIFO (named pipe); promptsearch writes only regular "
                                 f"files, and --force replaces a regular file only")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_device_node_is_refused_and_kept(db, tmp_path, capsys):
    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    link = tmp_path / "to-null"
    link.symlink_to(node)
    for target in (node, link):
        code, err = _run(["export", "done"], db, str(target), capsys)
        assert code == 2 and "is a character device; promptsearch writes only regular files" in err
    assert stat.S_ISCHR(os.lstat(node).st_mode) and link.is_symlink()


@pytest.mark.parametrize("argv", WRITERS, ids=lambda a: a[0])
def test_the_database_and_its_files_are_refused(argv, db, tmp_path, capsys):
    (tmp_path / "hard.db").hardlink_to(db)
    (tmp_path / "soft.db").symlink_to(db)
    other = tmp_path / "sub"
    other.mkdir()
    for out in (db, tmp_path / "hard.db", tmp_path / "soft.db", Path(f"{db}-wal"), Path(f"{db}-shm"),
                Path(f"{db}-journal"), other / ".." / "e.db"):
        code, err = _run(argv, db, str(out), capsys)
        assert code == 2 and "is the database this command reads" in err, (out, err)
    assert _searches(db) == ["done"]
    assert not Path(f"{db}-journal").exists()  # (-wal and -shm are SQLite's while this process has it open)


def test_a_folder_and_a_link_to_a_fifo_are_refused(db, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "link").symlink_to(fifo)
    code, err = _run(["export", "done"], db, str(tmp_path / "link"), capsys)
    assert code == 2 and err.endswith(f"(a link to {fifo}) is a FIFO (named pipe); promptsearch writes only "
                                      f"regular files, and --force replaces a regular file only")
    code, err = _run(["report", "done"], db, str(tmp_path), capsys)
    assert code == 2 and err == (f"error: -o: {tmp_path} is a folder; promptsearch writes only regular files, "
                                 f"and --force replaces a regular file only")


@pytest.mark.parametrize("out, said", [("", "the output path is empty"), ("   ", "the output path is empty"),
                                       ("e.db/x", "e.db is not a folder"), ("loop", "Too many levels"),
                                       ("x" * 300, "the file name is too long"),
                                       ("d/" * 3000 + "x", "too long")])
def test_bad_paths_are_one_line(out, said, db, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for argv in WRITERS:
        code, err = _run(argv, db, out, capsys)
        assert code == 2 and said in err, (argv, err)


def test_an_unwritable_folder_is_one_line(db, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:  # root writes any folder whatever its mode: a read-only tmpfs
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("root, but cannot mount a read-only tmpfs")
    else:
        folder.chmod(0o555)
    try:
        for argv in WRITERS:
            code, err = _run(argv, db, str(folder / "out"), capsys)
            assert code == 2 and err == f"error: -o: folder {folder} cannot be written; choose another file", err
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        folder.chmod(0o755)


def test_force_replaces_a_regular_file_atomically_keeping_its_mode(db, tmp_path, capsys):
    out = tmp_path / "prompt.txt"
    out.write_text("old")
    out.chmod(0o640)
    link = tmp_path / "latest.txt"
    link.symlink_to(out)
    assert main(["export", "done", "--db", f"sqlite:///{db}", "--force", "-o", str(link)]) == 0
    assert link.is_symlink() and out.read_text() != "old"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_failed_write_leaves_the_old_file(tmp_path):
    out = tmp_path / "keep.txt"
    out.write_text("precious")

    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    from promptsearch.outfile import write_with
    with pytest.raises(UserError, match="No space left on device"):
        write_with(check_output(out, overwrite=True), boom)
    assert out.read_text() == "precious" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_a_fifo_put_there_after_the_check_is_still_refused(tmp_path):
    out = tmp_path / "late"
    target = check_output(out, overwrite=True)
    os.mkfifo(out)
    with pytest.raises(UserError, match="is a FIFO"):
        write_output(target, "text")
    assert stat.S_ISFIFO(os.lstat(out).st_mode)


def test_the_python_api_follows_the_same_rules(db, tmp_path):
    import promptsearch as ps
    store = ps.Store(f"sqlite:///{db}", create=False, read_only=True)
    for call in (lambda: ps.export_prompt(store, "done", path=db, overwrite=True),
                 lambda: ps.write_report(store, "done", db),
                 lambda: ps.backup_database(store, db, overwrite=True)):
        with pytest.raises(UserError, match="is the database this command reads"):
            call()
    store.close()
    assert _searches(db) == ["done"]
