"""The Python API: the README's example runs as written (docs/python_api.md), and importing the
package stays light."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "python_api.md"


def test_readme_example_runs(tmp_path, monkeypatch, smollm, capsys):
    """Runs the doc's code block unchanged, in a folder holding copies of examples/ and search_spaces/.
    To keep it quick, model loading returns the session's already loaded embedded model, and the
    copied default space offers at most 2 demonstrations (8 make prompts slow on a CPU)."""
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S).group(1)
    for folder in ("examples", "search_spaces"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("*.py", "*.md"))
    space = tmp_path / "search_spaces" / "default.yaml"
    space.write_text(space.read_text().replace("counts: [0, 2, 4, 8]", "counts: [0, 1, 2]"))
    assert "counts: [0, 1, 2]" in space.read_text()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)

    ps, store, search = namespace["ps"], namespace["store"], namespace["search"]
    out = capsys.readouterr().out
    assert "dev accuracy" in out and namespace["verdict"].conclusion in out
    assert len(ps.leaderboard(store, search, k=None)) >= 1
    from promptsearch.search.results import finished_trials
    assert len(finished_trials(store, search)) == 3  # 2 trials, then 1 more on resume
    rendered = jinja2.Template((tmp_path / "best_prompt.j2").read_text()).render(review="Great value.")
    assert rendered == namespace["top"].candidate.prompt.replace("{review}", "Great value.")
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert namespace["verdict"].examples == 8


def test_import_is_light_and_lazy():
    probe = ("import sys, promptsearch as ps; assert 'torch' not in sys.modules, 'torch';"
             "assert 'optuna' not in sys.modules, 'optuna'; ps.load_task; ps.Store;"
             "assert 'torch' not in sys.modules and 'dspy' not in sys.modules; print(sorted(ps.__all__))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in ("load_task", "load_space", "Store", "load_lm", "create_search", "run_search", "resume",
                 "best", "export_prompt", "evaluate_heldout", "write_report", "optimize", "UserError"):
        assert name in done.stdout


def test_api_errors_are_user_errors(tmp_path):
    import pytest

    import promptsearch as ps

    store = ps.Store(f"sqlite:///{tmp_path}/a.db")
    with pytest.raises(ps.NotFoundError, match="no search named 'nope'"):
        ps.best(store, "nope")
    with pytest.raises(ps.UserError, match="settings are seed, dev_limit"):
        ps.create_search(store, "x", ROOT / "examples" / "review_sentiment.yaml",
                         ROOT / "search_spaces" / "default.yaml", dev_limt=3)


def test_api_checks_label_scoring_and_changed_data(tmp_path, smollm, caplog):
    """The Python API runs optimize's checks (with an lm), stores label_scoring, and refuses to
    continue a search whose data changed."""
    import json
    import logging

    import pytest

    import promptsearch as ps

    d = tmp_path / "t"
    for split in ("train", "dev", "test"):
        (d / f"{split}.jsonl").parent.mkdir(parents=True, exist_ok=True)
        (d / f"{split}.jsonl").write_text("".join(json.dumps({"review": f"r{i}", "label": lab}) + "\n"
                                                  for i, lab in enumerate(["1", "10"])))
    (d / "task.yaml").write_text("train: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\ninputs: [review]\n"
                                 "output: label\nlabels: ['1', '10']\n")
    (tmp_path / "space.yaml").write_text("name: one\ninstructions: ['Rate it.']\n")
    store = ps.Store(f"sqlite:///{tmp_path}/a.db")
    with caplog.at_level(logging.WARNING, logger="promptsearch.api"):
        rec = ps.create_search(store, "s", d / "task.yaml", tmp_path / "space.yaml", lm=smollm)
    assert "label '1' is a token prefix of '10'" in caplog.text
    fair = ps.create_search(store, "fair", d / "task.yaml", tmp_path / "space.yaml", lm=smollm, label_scoring="mean")
    assert fair.settings["label_scoring"] == "mean" and rec.settings["label_scoring"] == "sum"
    with pytest.raises(ps.ConfigError, match="max_new_tokens=: 8192 is not below"):
        ps.create_search(store, "long", d / "task.yaml", tmp_path / "space.yaml", lm=smollm, max_new_tokens=8192)
    ps.run_search(store, "s", 1, lm=smollm)
    (d / "dev.jsonl").write_text(json.dumps({"review": "new", "label": "1"}) + "\n")
    with pytest.raises(ps.UserError, match="the dev file of search 's' has changed"):
        ps.resume(store, "s", 1, lm=smollm)
    with pytest.raises(ps.UserError, match="the dev file of search 's' has changed"):
        ps.evaluate_heldout(store, "s", lm=smollm)
