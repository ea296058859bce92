"""docs/extending.md, followed as a user would: a metric, a strategy and an export format, each in
one new module of their own (no promptsearch file edited), named once with --plugin or
$PROMPTSEARCH_PLUGINS, through the CLI on the real embedded model and a real SQLite file: optimize,
resume (which imports the stored plug-ins by itself), two --workers, export, and the one-line
refusal where a stored plug-in cannot be imported."""
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data" / "review_sentiment"


def walkthrough_modules() -> dict[str, str]:
    """The code block under each heading of docs/extending.md, as the plug-in module it becomes."""
    doc = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    modules = {}
    for heading, module in (("### A metric", "my_metric"), ("### A strategy", "my_strategy"),
                            ("### An export format", "my_export")):
        section = doc[doc.index(heading):]
        modules[module] = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    return modules


@pytest.fixture
def project(tmp_path):
    """A user's folder: the three plug-in modules, a task that names the metric and a space that
    names the strategy."""
    folder = tmp_path / "project"
    folder.mkdir()
    for module, code in walkthrough_modules().items():
        (folder / f"{module}.py").write_text(code)
    (folder / "task.yaml").write_text(
        f"name: plug\ntrain: {DATA / 'train.jsonl'}\ndev: {DATA / 'dev.jsonl'}\ntest: {DATA / 'test.jsonl'}\n"
        "inputs: [review]\noutput: label\nmetric: starts_with\nlabels: [negative, positive]\n")
    (folder / "space.yaml").write_text(
        "name: plugspace\ninstructions: ['Classify the {inputs}. Answer with one of: {labels}.', "
        "'Is the {inputs} {labels}?']\ndemos: {counts: [0, 2]}\nstrategies: [direct, shout]\n")
    return folder


def cli(folder: Path, *args: str, plugins: str | None = None) -> subprocess.CompletedProcess:
    """`promptsearch ...` in `folder` (the plug-ins are importable from the project folder only), output
    to a pipe; the database is beside the folders."""
    env = {k: v for k, v in os.environ.items() if k != "PROMPTSEARCH_PLUGINS"}
    env |= {"HF_HUB_OFFLINE": "1", "PROMPTSEARCH_DB": f"sqlite:///{folder.parent / 'plug.db'}"}
    if plugins is not None:
        env["PROMPTSEARCH_PLUGINS"] = plugins
    return subprocess.run([sys.executable, "-m", "promptsearch", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


def stored_plugins(db: Path, name: str) -> list[str]:
    with sqlite3.connect(db) as con:
        row = con.execute("SELECT a.value_json FROM study_user_attributes a JOIN studies s "
                          "ON s.study_id = a.study_id WHERE a.key = 'plugins' AND s.study_name = ?",
                          (f"promptsearch:{name}",)).fetchone()
    return json.loads(row[0])


def test_a_plugin_metric_strategy_and_format_work_in_every_command(project):
    run = cli(project, "optimize", "task.yaml", "--space", "space.yaml", "--trials", "2", "--dev-limit", "4",
              "--plugin", "my_metric", "--plugin=my_strategy", plugins="my_export")
    assert run.returncode == 0, run.stderr
    assert re.search(r"^trial 0: score [\d.]+, best [\d.]+; 1 of 2 trials in", run.stdout, re.M), run.stdout
    assert re.search(r"^trial 1: score", run.stdout, re.M) and "2 trials in" in run.stdout
    assert "Loading weights" not in run.stderr + run.stdout  # no third-party progress bar in a log
    db = project.parent / "plug.db"
    assert set(stored_plugins(db, "plug")) == {"my_metric", "my_strategy", "my_export"}

    # resume names no plug-in: it imports the ones the search stored
    run = cli(project, "resume", "plug", "--trials", "1")
    assert run.returncode == 0, run.stderr
    assert "1 trial in" in run.stdout and "Leaderboard" in run.stdout

    # where a stored plug-in cannot be imported: one line naming it, nothing run
    elsewhere = project.parent / "elsewhere"
    elsewhere.mkdir()
    run = cli(elsewhere, "resume", "plug", "--trials", "1")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert re.match(r"error: search 'plug' needs plug-in module 'my_\w+', which cannot be imported here",
                    run.stderr)

    run = cli(project, "export", "plug", "--format", "markdown", "--pick", "shortest-within 0.5",
              plugins="my_export")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# plug (trial ")

    # two worker processes load the plug-ins from the environment and from the stored search
    run = cli(project, "optimize", "task.yaml", "--space", "space.yaml", "--trials", "2", "--dev-limit", "4",
              "--name", "plugw", "--workers", "2", plugins="my_metric,my_strategy")
    assert run.returncode == 0, run.stderr
    assert "2 of 2 trials finished by 2 workers" in run.stdout and "Best prompt" in run.stdout
    assert set(stored_plugins(db, "plugw")) == {"my_metric", "my_strategy"}
