"""promptsearch.dspy.PromptSearch: DSPy's optimizer interface on the real model and real SQLite."""
import json
from pathlib import Path

import dspy
import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.export.dspy_program import dspy_instructions
from promptsearch.search.results import completed_trials

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "city_extraction"


def _examples(split, n):
    rows = [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text().splitlines()[:n]]
    return [dspy.Example(sentence=r["sentence"], city=r["city"]).with_inputs("sentence") for r in rows]


def same_city(example, prediction, trace=None):
    return example.city.strip().lower() == prediction.city.strip().lower()


def test_compile_returns_the_program_that_show_reports(tmp_path, smollm, capsys):
    db = f"sqlite:///{tmp_path}/d.db"
    optimizer = ps_dspy().PromptSearch(metric=same_city, trials=2, model="smollm2", db=db, lm=smollm)
    program = optimizer.compile(dspy.Predict("sentence -> city"), trainset=_examples("train", 6),
                                valset=_examples("dev", 3))
    store = ps.Store(db, create=False)
    [record] = store.list_searches()
    assert record.name == "dspy-sentence-city" and len(completed_trials(store, record)) == 2
    top = ps.best(store, record)
    program.save(str(tmp_path / "program.json"))
    state = json.loads((tmp_path / "program.json").read_text())
    task = ps.load_task(tmp_path / "dspy-sentence-city-data" / "task.yaml")
    expected = dspy_instructions(task, top.candidate)
    assert state["signature"]["instructions"] == (expected or dspy.Signature("sentence -> city").instructions)
    assert [{k: d[k] for k in ("sentence", "city")} for d in state["demos"]] == top.candidate.demos
    # the stored search is an ordinary one: show reads it, and the dev scores are the DSPy metric's
    assert main(["show", record.name, "--examples", "--format", "json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["trial"] == top.trial
    for e in shown["examples"]:
        assert e["score"] == float(e["prediction"].strip().lower() == e["expected"][0].strip().lower())
    # compiling again continues the same search up to `trials`
    again = ps_dspy().PromptSearch(metric=same_city, trials=3, model="smollm2", db=db, lm=smollm)
    again.compile(dspy.Predict("sentence -> city"), trainset=_examples("train", 6), valset=_examples("dev", 3))
    assert len(completed_trials(store, record)) == 3 and len(store.list_searches()) == 1


def ps_dspy():
    import promptsearch.dspy
    return promptsearch.dspy


class TwoStages(dspy.Module):
    def __init__(self):
        super().__init__()
        self.first = dspy.Predict("sentence -> country")
        self.second = dspy.Predict("sentence, country -> city")


def test_bad_programs_and_examples_are_one_line(tmp_path):
    optimizer = ps_dspy().PromptSearch(metric=same_city, trials=1, db=f"sqlite:///{tmp_path}/d.db")
    with pytest.raises(ps.UserError, match=r"the program has 2 predictors \(first, second\)") as e:
        optimizer.compile(TwoStages(), trainset=_examples("train", 2))
    assert "\n" not in str(e.value)
    bad = [dspy.Example(text="Paris is nice", city="Paris").with_inputs("text")]
    with pytest.raises(ps.UserError, match=r"trainset\[0\] has no field 'sentence'"):
        optimizer.compile(dspy.Predict("sentence -> city"), trainset=bad)
    assert not (tmp_path / "d.db").exists() and not list(tmp_path.iterdir())
