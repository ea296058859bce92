"""Output fit for logs and scripts, on the real embedded model: a plain line per finished trial
when stdout is not a terminal, correct plurals, `--pick` spelt as the API spells it, `resume NAME`
finishing the stored target, and no Optuna info lines through the Python API."""
import re
from pathlib import Path

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.search.results import finished_trials
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = str(ROOT / "examples" / "review_sentiment.yaml")
SPACE = str(ROOT / "search_spaces" / "default.yaml")



def test_trial_lines_plurals_pick_and_resume_to_the_target(tmp_path, capsys, real_model):
    db = f"sqlite:///{tmp_path}/out.db"
    assert main(["optimize", TASK, "--space", SPACE, "--trials", "1", "--name", "one", "--dev-limit", "4",
                 "--db", db]) == 0
    out = capsys.readouterr().out  # captured: not a terminal
    assert re.search(r"^trial 0: score [\d.]+, best [\d.]+; 1 of 1 trial in [\d.]+s$", out, re.M), out
    assert re.search(r"^1 trial in [\d.]+s; ", out, re.M) and "1 trials" not in out
    assert not re.search(r"^trials ━", out, re.M)  # no progress bar drawn into a log

    store = Store(db, create=False)
    record = store.get_search("one")
    store.set_trial_target(record, 3)  # as a run stopped early (Ctrl-C, a crash, a budget) leaves it
    assert main(["resume", "one", "--db", db]) == 0  # no --trials: the 2 the target still needs
    out = capsys.readouterr().out
    assert re.search(r"^trial \d+: score .*; 2 of 2 trials in", out, re.M) and "2 trials in" in out
    assert len(finished_trials(store, record)) == 3 and store.trial_target(record) == 3
    assert main(["resume", "one", "--db", db]) == 0  # nothing left: says so, runs nothing
    out = capsys.readouterr().out
    assert "search one already has 3 of 3 trials; add more with `promptsearch resume one --trials N`" in out
    assert "trials in" not in out and len(finished_trials(store, record)) == 3

    exports = []
    for pick in (["shortest-within 0.2"], ["shortest-within", "0.2"]):
        assert main(["export", "one", "--pick", *pick, "--db", db]) == 0
        exports.append(capsys.readouterr().out)
    assert exports[0] == exports[1] == ps.export_prompt(store, "one", pick="shortest-within 0.2")


def test_the_api_resumes_to_the_target_and_prints_no_optuna_lines(tmp_path, capfd, real_model):
    db = f"sqlite:///{tmp_path}/api.db"
    store, record = ps.optimize(TASK, SPACE, trials=1, name="api", db=db, lm=real_model, dev_limit=4)
    store.set_trial_target(record, 2)
    assert ps.resume(store, "api", lm=real_model).completed == 1
    assert ps.resume(store, "api", lm=real_model).completed == 0
    out, err = capfd.readouterr()
    assert out == "" and "Trial 0 finished" not in err and "A new study created" not in err, err
