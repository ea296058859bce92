"""Bad and unusual inputs through the real CLI and API (issue 12): user text printed literally,
numbers range-checked, every check before the first write, paths that survive a change of folder."""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.search.results import trial_counts
from promptsearch.storage import Store

MARKUP = "[/INST] rs[/x] [bold]:smile: [link=x]"


def _db_bytes(path: Path) -> str:
    con = sqlite3.connect(path)  # fold any WAL into the file first
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_user_text_is_printed_literally_everywhere(tmp_path, tiny_task, tiny_space, fake_model, capsys):
    """Brackets and emoji codes in a task name, a space name, an instruction and a model path are
    not rich markup: optimize, list, show, export, report and eval all work and print them as they are."""
    tiny_task.write_text(tiny_task.read_text().replace("name: tiny", f"name: '{MARKUP}'"))
    tiny_space.write_text(tiny_space.read_text().replace("name: tiny", f"name: '{MARKUP}'")
                          .replace("'Sentiment?'", f"'Sentiment? {MARKUP}'"))
    db = ["--db", f"sqlite:///{tmp_path}/m.db"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "m", "--trials", "4", *db]) == 0
    out = capsys.readouterr().out
    assert f"task {MARKUP}, space {MARKUP}" in out
    assert main(["list", *db]) == 0
    assert "[/INST]" in capsys.readouterr().out
    assert main(["show", "m", *db]) == 0
    assert "[/INST]" in capsys.readouterr().out
    assert main(["export", "m", "--format", "json", *db]) == 0
    assert main(["report", "m", "-o", str(tmp_path / "r.html"), *db]) == 0
    assert main(["eval", "m", *db]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err


def test_a_seed_at_the_top_of_its_range_resumes(tmp_path, tiny_task, tiny_space, fake_model):
    """The sampler seed grows with the trials already run; it wraps instead of overflowing."""
    db = ["--db", f"sqlite:///{tmp_path}/s.db"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "s", "--trials", "2",
                 "--seed", str(2**32 - 1), *db]) == 0
    assert main(["resume", "s", "--trials", "2", *db]) == 0


@pytest.mark.parametrize("settings,message", [
    ({"seed": -1}, "seed= must be at least 0, got -1"),
    ({"seed": 2**32}, "seed= must be at most 4294967295"),
    ({"batch_size": 0}, "batch_size= must be at least 1"),
    ({"dev_limit": "3"}, "dev_limit= must be an integer"),
])
def test_the_api_checks_ranges_before_writing(tmp_path, tiny_task, tiny_space, settings, message):
    store = ps.Store(f"sqlite:///{tmp_path}/a.db")
    with pytest.raises(ps.ConfigError, match=message):
        ps.create_search(store, "x", tiny_task, tiny_space, **settings)
    assert store.list_searches() == []


def test_api_numbers_are_checked(tmp_path, tiny_task, tiny_space, fake_model):
    store = ps.Store(f"sqlite:///{tmp_path}/a.db")
    search = ps.create_search(store, "x", tiny_task, tiny_space)
    with pytest.raises(ps.ConfigError, match="trials= must be at most 1000000"):
        ps.run_search(store, search, 10**20)
    ps.run_search(store, search, 2)
    with pytest.raises(ps.ConfigError, match="resamples= must be at most 100000"):
        ps.evaluate_heldout(store, search, resamples=10**9)


def test_resume_checks_the_data_before_raising_the_target(tmp_path, tiny_task, tiny_space, fake_model, capsys):
    path = tmp_path / "r.db"
    db = ["--db", f"sqlite:///{path}"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "r", "--trials", "2", *db]) == 0
    (tiny_task.parent / "dev.jsonl").write_text('{"review": ["a list"], "label": "positive"}\n')
    before = _db_bytes(path)
    capsys.readouterr()
    assert main(["resume", "r", "--trials", "2", *db]) == 2
    assert main(["worker", "r", "--trials", "2", *db]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "dev.jsonl" in err  # the changed file, named (search/checks.py)
    assert _db_bytes(path) == before


def test_a_model_that_does_not_load_leaves_no_search_behind(tmp_path, tiny_task, tiny_space, monkeypatch, capsys):
    """optimize --workers N loads the model once before it creates the search (it used to create
    the search, then every worker failed on the model)."""
    def broken(spec=None, **kw):
        raise ps.ConfigError(f"model '{spec}': cannot load it (broken weights)")
    monkeypatch.setattr("promptsearch.service.models.load_model", broken)
    db = ["--db", f"sqlite:///{tmp_path}/w.db"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--workers", "2", *db]) == 2
    assert "broken weights" in capsys.readouterr().err
    assert not (tmp_path / "w.db").exists() or Store(f"sqlite:///{tmp_path}/w.db").list_searches() == []


def test_the_api_checks_the_model_against_the_task(tmp_path, tiny_task, tiny_space, fake_lm):
    """A model without log-likelihoods cannot rank labels: the API refuses before any trial."""
    fake_lm.supports_loglikelihood = False
    store = ps.Store(f"sqlite:///{tmp_path}/a.db")
    search = ps.create_search(store, "x", tiny_task, tiny_space)
    with pytest.raises(ps.UserError, match="no log-likelihood"):
        ps.run_search(store, search, 2, lm=fake_lm)
    counts = trial_counts(store, search)
    assert counts["waiting"] == 1 and sum(counts.values()) == 1  # only the start trial, still queued


def test_a_relative_model_path_is_stored_resolved(tmp_path, tiny_task, tiny_space, fake_model, monkeypatch, capsys):
    model = tmp_path / "models" / "m.gguf"
    model.parent.mkdir()
    model.write_bytes(b"GGUF" + bytes(60))
    monkeypatch.chdir(model.parent)
    db = ["--db", f"sqlite:///{tmp_path}/p.db"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "p", "--trials", "1",
                 "--model", "m.gguf", "--proposer", "./m.gguf", *db]) == 0
    record = Store(f"sqlite:///{tmp_path}/p.db").get_search("p")
    assert record.model == str(model) and record.settings["proposer"] == str(model)
    monkeypatch.chdir(tmp_path)
    assert main(["resume", "p", "--trials", "1", *db]) == 0


def test_export_onto_a_symlink_writes_its_target(tmp_path, tiny_task, tiny_space, fake_model, capsys):
    db = ["--db", f"sqlite:///{tmp_path}/x.db"]
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--name", "x", "--trials", "2", *db]) == 0
    target, link = tmp_path / "real.txt", tmp_path / "link.txt"
    target.write_text("old")
    link.symlink_to(target)
    capsys.readouterr()
    assert main(["export", "x", "-o", str(link), *db]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["export", "x", "-o", str(link), "--force", *db]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() != "old" and "{review}" in target.read_text()
    assert main(["report", "x", "-o", str(link), "--force", *db]) == 0
    assert link.is_symlink() and target.read_text().startswith("<!DOCTYPE html>")


def test_api_export_is_atomic_and_checked(tmp_path, tiny_task, tiny_space, fake_model):
    store, search = ps.optimize(tiny_task, tiny_space, trials=2, db=f"sqlite:///{tmp_path}/e.db")
    with pytest.raises(ps.UserError, match=r"folder .* does not exist"):
        ps.export_prompt(store, search, "text", tmp_path / "no" / "such.txt")
    ps.export_prompt(store, search, "text", tmp_path / "p.txt")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
