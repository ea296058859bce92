"""`promptsearch eval`: best vs baseline on the test split, on the real model and (logic) a fake one."""
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.data import load_split
from promptsearch.lm.base import LoglikelihoodRequest
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import best, first_trial
from promptsearch.storage import Store
from promptsearch.storage.models import EvaluationRow
from promptsearch.verdict import load_verdict, run_verdict, store_verdict
from promptsearch.verdict.heldout import Arm, Verdict
from promptsearch.verdict.stats import Interval

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
# Short prompts keep the real-model runs quick: at most one demonstration.
SPACE = """name: small
instructions: ["Classify the {inputs}. Answer with one of: {labels}.", "Is the {inputs} {labels}?", ""]
demos: {counts: [0, 1], selection: [random]}
cot_triggers: [null]
templates: [plain, chat]
"""


@pytest.fixture(scope="module")
def real(tmp_path_factory, smollm):
    """A real search: 3 trials on 3 dev examples."""
    tmp = tmp_path_factory.mktemp("verdict")
    db = f"sqlite:///{tmp}/v.db"
    (tmp / "space.yaml").write_text(SPACE)
    store = Store(db)
    record = new_search(store, "v", load_task(TASK), load_space(tmp / "space.yaml"), "smollm2",
                           SearchSettings(dev_limit=3, seed=1))
    run_trials(store, record, smollm, 3)
    return db, store, record


def _test_ids_scored(store) -> set[str]:
    return store.db.read(lambda s: set(s.scalars(sa.select(EvaluationRow.example_id))))


def test_eval_cli_on_the_real_model(real, capsys, monkeypatch, smollm):
    db, store, record = real
    task = load_task(TASK)
    test = load_split(task, "test", 6)
    assert not {e.id for e in test} & _test_ids_scored(store)  # the search never saw the test split
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)  # loaded once
    assert main(["eval", "v", "--split", "test", "--limit", "6", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Held-out verdict" in out and "95% CI" in out and "difference" in out and "McNemar" in out

    v = load_verdict(store, record)
    assert v["split"] == "test" and v["examples"] == 6 and v["test"] == "exact McNemar"
    assert v["model"] == smollm.name and v["resamples"] == 2000
    top, first = best(store, record), first_trial(store, record)
    assert v["best"]["prompt_hash"] == top.candidate.prompt_hash and v["best"]["dev_score"] == top.score
    assert v["baseline"]["source"] == f"first trial ({first.trial})"
    assert v["best_gap"] == pytest.approx(top.score - v["best"]["score"]["estimate"])
    lo, est, hi = (v["best"]["score"][k] for k in ("low", "estimate", "high"))
    assert 0 <= lo <= est <= hi <= 1
    assert v["difference"]["estimate"] == pytest.approx(est - v["baseline"]["score"]["estimate"])

    # The test accuracy is what ranking the labels by hand with the exported prompt gives.
    requests = [LoglikelihoodRequest(top.candidate.prompt.replace("{review}", ex["review"]),
                                     top.candidate.answer_prefix + label) for ex in test for label in task.labels]
    out = smollm.loglikelihood(requests)
    k = len(task.labels)
    correct = [task.labels[max(range(k), key=lambda j: out[i * k + j].logprob)] == ex["label"]
               for i, ex in enumerate(test)]
    assert v["best"]["scores"] == [float(c) for c in correct]


def test_eval_against_a_prompt_file(real, tmp_path, capsys, monkeypatch, smollm):
    db, store, record = real
    exported = tmp_path / "best.json"
    assert main(["export", "v", "--format", "json", "-o", str(exported), "--db", db]) == 0
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)
    assert main(["eval", "v", "--limit", "6", "--baseline", str(exported), "--db", db]) == 0
    assert "nothing to compare" in capsys.readouterr().out  # the best prompt against itself
    v = load_verdict(store, record)
    assert v["same_prompt"] and v["p_value"] == 1.0 and v["baseline"]["source"] == str(exported)
    assert v["baseline"]["dev_score"] == best(store, record).score  # found among the search's trials


# ---------------------------------------------------------------------------- logic (fake LM)

@pytest.fixture
def fake_db(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/f.db")
    rec = new_search(store, "f", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 3)
    return store, rec


def test_baseline_file_that_always_fails_loses(fake_db, fake_lm, tmp_path):
    store, rec = fake_db
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"prompt": "BAD\n\nReview: {review}\nLabel:", "answer_prefix": " "}))
    v = run_verdict(store, rec, fake_lm, baseline=str(bad))
    assert v.best.score.estimate == 1.0 and v.baseline.score.estimate == 0.0
    assert v.test == "exact McNemar" and v.p_value == pytest.approx(2 * 0.5 ** 6)
    assert v.conclusion.startswith("the best prompt beats the baseline") and v.warning is None
    assert v.baseline.dev_score is None  # not a candidate of this search
    store_verdict(store, rec, v, str(bad))
    assert load_verdict(store, rec)["baseline"]["source"] == str(bad)


def test_overfitting_warning_when_dev_is_above_the_test_interval():
    def arm(dev: float, est: float) -> Arm:
        return Arm(source="x", prompt_hash="h", prompt="p", dev_score=dev, score=Interval(est, est - 0.1, est + 0.1))
    v = Verdict(search="s", split="test", model="m", metric="accuracy", example_ids=["a"] * 20, best=arm(0.95, 0.6),
                baseline=arm(0.6, 0.6), difference=Interval(0.0, -0.1, 0.1), test="exact McNemar", p_value=1.0,
                resamples=2000, seed=0)
    assert v.warning.startswith("overfitting: the best prompt scored 0.950 on dev but 0.600 on test")
    v.best = arm(0.65, 0.6)
    assert v.warning is None


@pytest.mark.parametrize("content,message", [
    (None, "no such file"),
    ("not json", "not a JSON file"),
    ('{"answer_prefix": " "}', "field 'prompt' is missing"),
    ('{"prompt": "Label this:"}', "field 'prompt' has no {review} placeholder"),
])
def test_bad_baseline_file_is_a_one_line_error_before_the_model_loads(fake_db, tmp_path, capsys, monkeypatch,
                                                                    content, message):
    store, _ = fake_db
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda *a, **k: pytest.fail("model loaded"))
    assert main(["eval", "f", "--baseline", str(path), "--db", store.url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --baseline") and message in err and "\n" not in err


def test_eval_unknown_search(fake_db, capsys):
    store, _ = fake_db
    assert main(["eval", "nope", "--db", store.url]) == 2
    assert "no search named 'nope'" in capsys.readouterr().err
