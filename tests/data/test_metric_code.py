"""A Python metric is the user's code (issue 25, class 6 and 8): `--dry-run` checks it by parsing,
never running it; a real run imports it before anything is written; whatever it raises, sys.exit
included, is one line and exit 2."""
from __future__ import annotations

import re

import pytest

from promptsearch.cli.main import main
from promptsearch.config import load_task
from promptsearch.data.dataset import load_split
from promptsearch.data.metrics import MetricError, check_metric, resolve_metric
from promptsearch.errors import ConfigError

MARKER_CODE = "open({marker!r}, 'w').write('ran')\n"


def _metric(tiny_task, code: str, func: str = "score") -> None:
    (tiny_task.parent / "m.py").write_text(code)
    tiny_task.write_text(tiny_task.read_text().replace("metric: accuracy", f"metric: m.py:{func}"))



def test_dry_run_parses_the_metric_and_runs_none_of_it(tiny_task, tiny_space, tmp_path, real_model, capsys):
    marker = tmp_path / "ran"
    _metric(tiny_task, MARKER_CODE.format(marker=str(marker)) + "def score(example, prediction):\n    return 1.0\n")
    db = tmp_path / "x.db"
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--dry-run", "--dev-limit", "2",
                 "--db", f"sqlite:///{db}"]) == 0
    assert not marker.exists() and not db.exists()
    # a real run imports it (before the first write)
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--trials", "1", "--dev-limit", "2",
                 "--db", f"sqlite:///{db}"]) == 0
    assert marker.exists()


@pytest.mark.parametrize("code,func,fragment", [
    ("import sys\nsys.exit(3)\n", "score", "m.py has no function 'score'"),
    ("def other(example, prediction):\n    return 1.0\n", "score", "m.py has no function 'score'; it defines other"),
    ("def score(example, prediction)\n    return 1.0\n", "score", "m.py is not valid Python (line 2): SyntaxError"),
    ("x = 1\0\n", "score", "m.py is not valid Python"),
])
def test_dry_run_refuses_a_broken_metric_without_running_it(tiny_task, tiny_space, tmp_path, real_model, capsys,
                                                            code, func, fragment):
    marker = tmp_path / "ran"
    _metric(tiny_task, MARKER_CODE.format(marker=str(marker)) + code, func)
    assert main(["optimize", str(tiny_task), "--space", str(tiny_space), "--dry-run",
                 "--db", f"sqlite:///{tmp_path}/x.db"]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and "\n" not in err and not marker.exists()


@pytest.mark.parametrize("body", [
    "from helpers import score\n",  # bound by an import
    "score = lambda example, prediction: 1.0\n",  # by an assignment
    "try:\n    import numpy\nexcept ImportError:\n    pass\nelse:\n"
    "    def score(example, prediction):\n        return 1.0\n",  # inside a top-level try
])
def test_the_ast_check_accepts_every_top_level_binding(tiny_task, body):
    _metric(tiny_task, body)
    resolve_metric(load_task(tiny_task))  # parses; does not import


@pytest.mark.parametrize("raised,shown", [
    ("SystemExit(0)", "raised SystemExit: sys.exit(0) ends the process"),
    ("SystemExit('bye')", "raised SystemExit: sys.exit('bye') ends the process"),
    ("GeneratorExit()", "raised GeneratorExit"),
    ("Boom('loud')", "raised Boom: loud"),
])
def test_any_base_exception_of_a_metric_is_a_metric_error(tiny_task, raised, shown):
    _metric(tiny_task, f"class Boom(BaseException):\n    pass\ndef score(example, prediction):\n    raise {raised}\n")
    task = load_task(tiny_task)
    with pytest.raises(MetricError, match=re.escape(shown)):
        resolve_metric(task).score("x", load_split(task, "dev")[0])


def test_ctrl_c_inside_a_metric_stays_an_interruption(tiny_task):
    _metric(tiny_task, "def score(example, prediction):\n    raise KeyboardInterrupt\n")
    task = load_task(tiny_task)
    with pytest.raises(KeyboardInterrupt):
        resolve_metric(task).score("x", load_split(task, "dev")[0])


def test_sys_exit_at_import_is_a_config_error(tiny_task):
    _metric(tiny_task, "import sys\nsys.exit(0)\ndef score(example, prediction):\n    return 1.0\n")
    with pytest.raises(ConfigError, match=r"importing m.py failed: SystemExit: sys.exit"):
        check_metric(load_task(tiny_task))
