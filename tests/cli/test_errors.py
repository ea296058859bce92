"""Every user error: one line on stderr, exit code 2, no traceback, the database as it was."""
import hashlib
from pathlib import Path

import pytest

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.storage import Store


def _digest(path: Path) -> str:
    if not path.exists():
        return "absent"
    # the WAL file may hold committed pages not yet checkpointed: compare both
    parts = [p.read_bytes() for p in (path, Path(str(path) + "-wal")) if p.exists()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


@pytest.fixture
def db(tmp_path, tiny_task, tiny_space, fake_lm):
    """A database holding one finished search named 'done' and one empty search 'empty'."""
    path = tmp_path / "e.db"
    store = Store(f"sqlite:///{path}")
    rec = new_search(store, "done", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 2)
    new_search(store, "empty", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    store.close()  # every connection, Optuna's too: a pool collected later would checkpoint the WAL
    return path


def _run_error(capsys, argv, db_path):
    before = _digest(db_path)
    code = main([*argv, "--db", f"sqlite:///{db_path}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert _digest(db_path) == before
    return err


def test_missing_task_file(capsys, db, tiny_space):
    err = _run_error(capsys, ["optimize", "nowhere.yaml", "--space", str(tiny_space)], db)
    assert "nowhere.yaml: task file not found" in err


def test_missing_space_file(capsys, db, tiny_task):
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", "nospace.yaml"], db)
    assert "nospace.yaml: search space file not found" in err


def test_unknown_key_in_task(capsys, db, tiny_task, tiny_space):
    tiny_task.write_text(tiny_task.read_text() + "lables: [a]\n")
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", str(tiny_space)], db)
    assert "unknown field 'lables'" in err and str(tiny_task) in err


def test_wrong_type_in_space(capsys, db, tiny_task, tiny_space):
    tiny_space.write_text(tiny_space.read_text().replace("seed: 0", "seed: [0]"))
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", str(tiny_space)], db)
    assert "field 'seed' must be an integer, got a list" in err


def test_empty_split(capsys, db, tiny_task, tiny_space):
    (tiny_task.parent / "test.jsonl").write_text("")
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "new"], db)
    assert "test.jsonl: the test split is empty" in err


def test_gold_label_not_in_labels(capsys, db, tiny_task, tiny_space):
    (tiny_task.parent / "dev.jsonl").write_text('{"review": "meh", "label": "neutral"}\n')
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "new"], db)
    assert "dev.jsonl:1: label 'neutral' is not in the task's labels" in err


def test_duplicate_search_name(capsys, db, tiny_task, tiny_space):
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "done"], db)
    assert "a search named 'done' already exists" in err and "promptsearch resume done" in err


@pytest.mark.parametrize("command", [["show", "nope"], ["resume", "nope", "--trials", "1"], ["export", "nope"]])
def test_unknown_search_name(capsys, db, command):
    err = _run_error(capsys, command, db)
    assert "no search named 'nope'" in err and "known: done, empty" in err


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_trials_must_be_positive(capsys, db, tiny_task, tiny_space, value):
    err = _run_error(capsys, ["optimize", str(tiny_task), "--space", str(tiny_space), "--trials", value], db)
    assert "--trials must be" in err


def test_resume_trials_zero(capsys, db):
    err = _run_error(capsys, ["resume", "done", "--trials", "0"], db)
    assert "--trials must be at least 1, got 0" in err


def test_export_without_completed_trial(capsys, db):
    err = _run_error(capsys, ["export", "empty"], db)
    assert "search 'empty' has no completed trial yet" in err


def test_unknown_flag(capsys, db):
    err = _run_error(capsys, ["list", "--colour"], db)
    assert "unrecognized arguments: --colour" in err


def test_missing_database_is_not_created(capsys, tmp_path):
    path = tmp_path / "none.db"
    err = _run_error(capsys, ["show", "x"], path)
    assert "no such file" in err and not path.exists()


def test_debug_shows_the_traceback(db, tiny_space):
    from promptsearch.errors import NotFoundError
    with pytest.raises(NotFoundError):
        main(["optimize", "nowhere.yaml", "--space", str(tiny_space), "--db", f"sqlite:///{db}", "--debug"])


def test_export_never_overwrites_without_force(capsys, db, tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("precious")
    err = _run_error(capsys, ["export", "done", "-o", str(target)], db)
    assert "exists; pass --force" in err and target.read_text() == "precious"
    assert main(["export", "done", "-o", str(target), "--force", "--db", f"sqlite:///{db}"]) == 0
    assert target.read_text() != "precious"


def test_export_write_failure_is_one_line_and_leaves_no_temp_file(capsys, db, tmp_path):
    target = tmp_path / "a_folder"
    target.mkdir()
    err = _run_error(capsys, ["export", "done", "-o", str(target), "--force"], db)
    assert f"-o: {target} is a folder; promptsearch writes only regular files" in err  # refused before writing
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == [] and target.is_dir()
