"""`promptsearch run` and `ps.load_prompt`: the exported prompt, run without the database,
reproduces the predictions the search stored for every dev example -- label ranking on plain and
chat layouts, and generation with chain of thought and self-consistency (real model, real SQLite)."""
import json

import pytest
from psafter import DEV, lines, real_search

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.search.results import completed_trials

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
REASONING = """name: reason
instructions: ["Answer with the city only.", ""]
strategies: [zero_shot_cot, self_consistency]
cot_triggers: ["Let's think step by step."]
demos: {counts: [0], selection: [random]}
templates: [plain, chat]
reasoning: {max_tokens: 12}
self_consistency: {samples: [2], temperatures: [0.7]}
"""


@pytest.fixture(scope="module")
def real(tmp_path_factory, smollm):
    return real_search(tmp_path_factory.mktemp("run"), smollm, trials=4, dev_limit=4)  # dev: DEV[:4]


@pytest.fixture
def loaded(monkeypatch, smollm):
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)


def _stored(store, trial):
    return [o.prediction for o in ps.trial_examples(store, "after", trial).outcomes]


def test_the_export_reproduces_every_stored_dev_prediction(real, tmp_path, capsys, loaded, smollm):
    db, store, record = real
    assert main(["export", "after", "--format", "json", "-o", str(tmp_path / "best.json"), "--db", db]) == 0
    exported = json.loads((tmp_path / "best.json").read_text())
    assert exported["format_version"] == 2 and exported["decoding"] == {"max_new_tokens": 32, "label_scoring": "sum"}
    assert exported["model_spec"]["model"] == "smollm2" and exported["strategy"] == "direct"
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps({"id": i, **r}) + "\n" for i, r in enumerate(DEV)))
    # no database: the file alone (a database URL that does not exist)
    assert main(["run", str(tmp_path / "best.json"), "--input", str(dev), "-o", str(tmp_path / "out.jsonl"),
                 "--db", f"sqlite:///{tmp_path}/none.db"]) == 0
    out = lines((tmp_path / "out.jsonl").read_text())
    assert [o["prediction"] for o in out][:4] == _stored(store, exported["trial"])  # the 5th was never scored
    assert [o["id"] for o in out] == list(range(len(DEV))) and [o["review"] for o in out] == [r["review"] for r in DEV]
    for o in out:
        probs = o["probabilities"]
        assert set(probs) == {"negative", "positive"} and sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
        assert max(probs, key=probs.get) == o["prediction"]
    # every trial, by name from the database (plain and chat layouts), through the API
    for t in completed_trials(store, record):
        prompt = ps.load_prompt("after", store=store, trial=t.number)
        assert [p.prediction for p in prompt.predict(DEV[:4], lm=smollm)] == _stored(store, t.number)


def test_reasoning_strategies_reproduce_their_stored_predictions(tmp_path, smollm):
    (tmp_path / "space.yaml").write_text(REASONING)
    db = f"sqlite:///{tmp_path}/r.db"
    store, record = ps.optimize(ROOT / "examples" / "city_extraction.yaml", tmp_path / "space.yaml", trials=3,
                                name="cities", db=db, lm=smollm, dev_limit=3, seed=4)
    from promptsearch.data import load_split
    from promptsearch.search.examples import trial_examples
    dev = [{"sentence": e["sentence"]} for e in load_split(ps.load_task(ROOT / "examples" / "city_extraction.yaml"),
                                                           "dev", 3)]
    strategies = set()
    for t in completed_trials(store, record):
        prompt = ps.load_prompt("cities", store=store, trial=t.number)
        strategies.add(prompt.data["strategy"].split(":")[1])
        got = prompt.predict(dev, lm=smollm)
        assert [p.prediction for p in got] == [o.prediction for o in trial_examples(store, record, t.number).outcomes]
        assert all(p.probabilities is None for p in got)  # a generation task
    assert strategies  # which strategies the 3 trials drew is the sampler's; each one reproduced


def test_bad_input_is_one_line_and_writes_nothing(real, tmp_path, capsys, loaded):
    db, _store, _record = real
    best = tmp_path / "best.json"
    assert main(["export", "after", "--format", "json", "-o", str(best), "--db", db]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"review": "fine"}\n{"text": "no review field"}\n')
    old = tmp_path / "old.json"
    data = json.loads(best.read_text())
    del data["format_version"]
    old.write_text(json.dumps(data))
    good = tmp_path / "in.csv"
    good.write_text("review\nfine\n")
    out = tmp_path / "out.jsonl"
    for argv, message in [
        (["run", str(best), "--input", str(bad), "-o", str(out)], f"{bad}:2: missing field 'review'"),
        (["run", str(old), "--input", str(good), "-o", str(out)], "exported by an older promptsearch"),
        (["run", str(best), "--input", str(good), "--trial", "1", "-o", str(out)], "--trial: "),
        (["run", "after", "--input", str(good), "--trial", "50", "-o", str(out), "--db", db], "has no trial 50"),
        (["run", str(tmp_path / "nope.json"), "--input", str(good)], "no such file"),
        (["run", str(best), "--input", str(tmp_path / "nope.jsonl")], "no such file"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert not out.exists()
    with pytest.raises(ps.ConfigError, match="older promptsearch"):
        ps.load_prompt(old)


def test_csv_and_stdin_inputs(real, tmp_path, capsys, loaded, monkeypatch):
    db, _store, _record = real
    csv = tmp_path / "in.csv"
    csv.write_text('review,id\n"Terrible, cold food.",a\nLovely staff,b\n')
    assert main(["run", "after", "--input", str(csv), "--db", db]) == 0
    from_csv = lines(capsys.readouterr().out)
    assert [o["id"] for o in from_csv] == ["a", "b"]
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(
        '{"review": "Terrible, cold food.", "id": "a"}\n{"review": "Lovely staff", "id": "b"}\n'))
    assert main(["run", "after", "--input", "-", "--db", db]) == 0
    assert lines(capsys.readouterr().out) == from_csv


def test_demos_chosen_per_input_reproduce_their_stored_predictions(tmp_path, smollm):
    """Nearest-neighbour demos: `run` chooses them again per input, as the search did; every
    prediction is one the evaluation cache holds for the example's own prompt (nothing recomputed)."""
    from psafter import write_task

    from promptsearch.evaluate.evaluator import Evaluator
    from promptsearch.search.rebuild import rebuild_prompt
    from promptsearch.search.runner import decoding_for, open_parts

    task_path = write_task(tmp_path)
    (tmp_path / "space.yaml").write_text("name: nn\ninstructions: ['Classify the {inputs}.']\n"
                                         "demos: {counts: [2], selection: [nearest], embedding: minilm}\n"
                                         "cot_triggers: [null]\ntemplates: [plain]\n")
    store, record = ps.optimize(task_path, tmp_path / "space.yaml", trials=1, name="nn",
                                db=f"sqlite:///{tmp_path}/nn.db", lm=smollm, dev_limit=4)
    top = ps.best(store, record)
    assert top.candidate.params["demo_selection"] == "nearest"
    task, _, settings = open_parts(record)
    from promptsearch.data import load_split
    dev = load_split(task, "dev", 4)
    again = Evaluator(smollm, task, store.evaluations, decoding_for(settings)).evaluate(
        rebuild_prompt(record, top.candidate, lm=smollm, store=store), dev)
    assert again.computed == 0  # the stored rows of the search
    got = ps.load_prompt("nn", store=store).predict([{"review": e["review"]} for e in dev], lm=smollm)
    assert [p.prediction for p in got] == [r.prediction for r in again.results]


def test_model_flag_runs_the_prompt_on_the_model_it_names(real, tmp_path, capsys, monkeypatch, smollm):
    """--model: the named model is loaded (here it is the same weights under another spec, so the
    answers are the stored ones: rendered with its own chat template, no hash check needed)."""
    db, store, record = real
    asked = []
    monkeypatch.setattr("promptsearch.service.models.load_model",
                        lambda spec=None, **kw: asked.append((spec, kw.get("api_base"))) or smollm)
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps(r) + "\n" for r in DEV[:4]))
    assert main(["run", "after", "--input", str(dev), "--model", "openai/elsewhere", "--db", db]) == 0
    assert asked == [("openai/elsewhere", None)]
    assert [o["prediction"] for o in lines(capsys.readouterr().out)] == _stored(store, ps.best(store, record).trial)
