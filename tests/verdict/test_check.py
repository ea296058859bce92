"""`promptsearch check`: a CI gate on prompt files -- exit 0 / 1 on real prompts (embedded model),
the paired-test regression on a scripted model, JUnit XML a parser reads, and bad input (exit 2)."""
import json
from xml.etree import ElementTree

import pytest
from psafter import DATA, real_search

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.export.formats import export_record
from promptsearch.search.devscores import dev_scores
from promptsearch.search.results import Entry, completed_trials
from promptsearch.storage.store import trial_score


def _export_trial(store, record, trial, path):
    """What `promptsearch export --format json` writes, for any complete trial."""
    row = store.candidates.get(record.id, trial.user_attrs["prompt_hash"])
    path.write_text(json.dumps(export_record(store, record, Entry(trial.number, trial_score(trial), row))))
    return path


@pytest.fixture(scope="module")
def real(tmp_path_factory, smollm):
    folder = tmp_path_factory.mktemp("check")
    _db, store, record = real_search(folder, smollm, trials=3)
    trials = sorted(completed_trials(store, record), key=lambda t: t.number)
    return folder, store, record, trials


@pytest.fixture
def loaded(monkeypatch, smollm):
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)


def _cases(path):
    suite = ElementTree.parse(path).getroot()
    assert suite.tag == "testsuite"
    return [(c.get("name"), c.find("failure")) for c in suite.iter("testcase")]


def test_check_passes_and_fails_on_real_prompts(real, tmp_path, capsys, loaded):
    folder, store, record, trials = real
    first, last = (_export_trial(store, record, t, tmp_path / f"t{t.number}.json") for t in (trials[0], trials[-1]))
    task = folder / "task.yaml"
    # 5 dev examples: no paired test can reach p < 0.05, so against any baseline this passes
    assert main(["check", str(last), "--task", str(task), "--split", "dev", "--min-score", "0",
                 "--baseline", str(first), "--junit", str(tmp_path / "ok.xml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### promptsearch check: passed") and "(baseline)" in out and "McNemar" in out
    cases = _cases(tmp_path / "ok.xml")
    assert len(cases) == 2 and all(f is None for _, f in cases)
    # the scores are the search's own stored dev scores for that trial: scored exactly as searched
    result = ps.check_prompt(first, task, split="dev")
    assert result.prompt.scores == dev_scores(trials[0]) and result.passed
    assert trial_score(trials[0]) < 1.0  # example 3 is labelled against its words
    assert main(["check", str(first), "--task", str(task), "--split", "dev", "--min-score", "1",
                 "--junit", str(tmp_path / "fail.xml")]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "is below --min-score 1" in out
    [(name, failure)] = _cases(tmp_path / "fail.xml")
    assert "scores at least 1" in name and "is below --min-score 1" in failure.get("message")


def test_a_significant_regression_fails_by_the_paired_test(tmp_path, tiny_task, capsys, fake_model):
    """Logic on the scripted model: an instruction with BAD is always wrong on it."""
    space = tmp_path / "space.yaml"
    space.write_text("name: s\ninstructions: ['Classify as {labels}.', 'BAD: label it']\n"
                     "demos: {counts: [0]}\ncot_triggers: [null]\ntemplates: [plain]\n")
    store, record = ps.optimize(tiny_task, space, trials=4, name="t", db=f"sqlite:///{tmp_path}/t.db",
                                lm=fake_model, sampler="random", seed=1)
    by_instruction = {t.user_attrs["instruction"]: t for t in completed_trials(store, record)}
    good = _export_trial(store, record, by_instruction["Classify as {labels}."], tmp_path / "good.json")
    bad = _export_trial(store, record, by_instruction["BAD: label it"], tmp_path / "bad.json")
    assert main(["check", str(bad), "--task", str(tiny_task), "--baseline", str(good),
                 "--junit", str(tmp_path / "j.xml")]) == 1
    out = capsys.readouterr().out
    assert "significantly worse than the baseline: -1.0000" in out
    cases = dict(_cases(tmp_path / "j.xml"))
    assert cases[f"{bad} is not significantly worse than {good}"] is not None
    assert main(["check", str(good), "--task", str(tiny_task), "--baseline", str(bad)]) == 0  # better passes
    capsys.readouterr()
    assert main(["check", str(bad), "--task", str(tiny_task), "--baseline", str(good), "--alpha", "0.01"]) == 0


def test_bad_input_is_one_line_and_writes_nothing(real, tmp_path, capsys, loaded):
    folder, store, record, trials = real
    prompt = _export_trial(store, record, trials[0], tmp_path / "p.json")
    other = json.loads(prompt.read_text())
    other["task"] = {**other["task"], "output": "sentiment", "name": "other"}
    (tmp_path / "other.json").write_text(json.dumps(other))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "test.jsonl").write_text('{"text": "x", "label": "negative"}\n')
    (broken / "task.yaml").write_text(f"name: broken\ntrain: {DATA / 'train.jsonl'}\ndev: {folder / 'dev.jsonl'}\n"
                                      f"test: test.jsonl\ninputs: [review]\noutput: label\nmetric: accuracy\n"
                                      "labels: [negative, positive]\n")
    task = str(folder / "task.yaml")
    junit = tmp_path / "j.xml"
    for argv, message in [
        (["check", str(prompt), "--task", task, "--baseline", str(tmp_path / "other.json")],
         "--baseline " + str(tmp_path / "other.json") + ": made for task 'other'"),
        (["check", str(prompt), "--task", str(broken / "task.yaml")], "test.jsonl:1: missing field 'review'"),
        (["check", str(prompt), "--task", task, "--alpha", "1.5"], "--alpha must be a number above 0 and below 1"),
        (["check", str(prompt), "--task", task, "--min-score", "nan"], "--min-score must be a number from 0 to 1"),
        (["check", str(tmp_path / "none.json"), "--task", task], "no such file"),
    ]:
        assert main([*argv, "--junit", str(junit)]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert not junit.exists()
