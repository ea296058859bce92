"""An error about one argument names it in its caller's words: the command line's `--trials`
(docs/errors.md, pinned by test_bad_inputs.py) and the Python API's `trials=` (issue 23, item 5).
The service words it for the command line and every error carries the argument (`param`)."""
from __future__ import annotations

import pytest

import promptsearch as ps
from promptsearch import service
from promptsearch.errors import ConfigError, UserError


def test_the_service_words_an_argument_for_the_command_line_and_carries_it(tmp_path, tiny_task, tiny_space):
    with pytest.raises(ConfigError) as e:
        service.optimize(f"sqlite:///{tmp_path}/s.db", tiny_task, tiny_space, trials=0)
    assert str(e.value) == "--trials must be at least 1, got 0"
    assert (e.value.param, e.value.flag) == ("trials", "--trials")


@pytest.mark.parametrize("call, expected", [
    (lambda t, s, db: ps.optimize(t, s, trials=0, db=db), "trials= must be at least 1, got 0"),
    (lambda t, s, db: ps.plan(t, s, trials="3", db=db), "trials= must be an integer from 1 to"),
    (lambda t, s, db: ps.optimize(t, s, trials=1, db=db, dev_limit=0), "dev_limit= must be at least 1, got 0"),
    (lambda t, s, db: ps.optimize(t, s, trials=1, db=db, seed=-1), "seed= must be at least 0, got -1"),
    (lambda t, s, db: ps.optimize(t, s, trials=1, db=db, label_scoring="best"),
     "label_scoring=: 'best' is not known; allowed:"),
    (lambda t, s, db: ps.optimize(t, s, trials=1, db=db, budget="calls"), "budget=: 'calls' is not KIND=NUMBER"),
])
def test_the_python_api_names_the_argument_as_it_is_passed(call, expected, tmp_path, tiny_task, tiny_space):
    with pytest.raises(UserError) as e:
        call(tiny_task, tiny_space, f"sqlite:///{tmp_path}/s.db")
    assert str(e.value).startswith(expected)
    assert "--" not in str(e.value).split(";")[0]  # no command-line flag where the API user reads
    assert not (tmp_path / "s.db").exists()  # nothing written before every check passed


def test_an_error_about_no_argument_is_unchanged(tmp_path, tiny_task, tiny_space):
    """A file's error names the file and field, in both."""
    tiny_task.write_text(tiny_task.read_text() + "colour: red\n")
    with pytest.raises(ConfigError) as e:
        ps.plan(tiny_task, tiny_space, trials=1, db=f"sqlite:///{tmp_path}/s.db")
    assert e.value.param is None and str(e.value).startswith(str(tiny_task))


def test_a_suggested_command_line_keeps_its_flags():
    """Only the argument the error is about is reworded, not the command it suggests."""
    error = UserError("--trials: search 'x' is done; continue with `promptsearch resume x --trials N`")
    assert str(error.in_api_words()) == ("trials=: search 'x' is done; continue with "
                                         "`promptsearch resume x --trials N`")
    longer = UserError("--trials-x: y", param="trials", flag="--trials")  # another flag's name begins the same
    assert longer.in_api_words() is longer
