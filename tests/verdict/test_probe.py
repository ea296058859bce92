"""The demo-label probe (`promptsearch probe`, verdict/probe.py): variants, the reading, storage,
`show` and the report, on the real model; the label variants' logic on its own."""
import random
from pathlib import Path

import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.config import load_task
from promptsearch.data.dataset import Example
from promptsearch.render.prompt import Candidate
from promptsearch.storage import Store
from promptsearch.strategies import DIRECT
from promptsearch.verdict import load_probe
from promptsearch.verdict.probe import Probe, Variant, _least_fixed_permutation, _variant
from promptsearch.verdict.stats import Interval

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
GEN_TASK = ROOT / "examples" / "city_extraction.yaml"
WITH_DEMOS = """name: demos
instructions: ["Classify the {inputs}. Answer with one of: {labels}."]
demos: {counts: [4], selection: [stratified], draws: 2}
cot_triggers: [null]
templates: [plain]
"""
NO_DEMOS = WITH_DEMOS.replace("counts: [4]", "counts: [0]")


def _demo(review: str, label: str) -> Example:
    return Example(review, {"review": review, "label": label})


def test_shuffle_moves_every_label_it_can():
    labels = ["positive", "positive", "negative", "negative"]
    out = _least_fixed_permutation(labels, random.Random(0))
    assert sorted(out) == sorted(labels) and all(a != b for a, b in zip(out, labels))
    assert _least_fixed_permutation(["a", "a", "a"], random.Random(0)) == ["a", "a", "a"]  # nothing to move


def test_variants_change_only_the_labels():
    task = load_task(TASK)
    original = Candidate(instruction="Classify.", demos=tuple(_demo(f"r{i}", lab) for i, lab in
                                            enumerate(["positive", "negative", "positive", "negative"])),
                         strategy=DIRECT)
    rng = random.Random(1)
    shuffled = _variant("shuffled", original, task, rng)
    assert [d["review"] for d in shuffled.demos] == [d["review"] for d in original.demos]
    assert all(a["label"] != b["label"] for a, b in zip(shuffled.demos, original.demos))
    randomised = _variant("random", original, task, rng)
    assert {d["label"] for d in randomised.demos} <= set(task.labels)
    assert _variant("none", original, task, rng).demos == ()
    gen = load_task(GEN_TASK)  # no label set: random labels are other train outputs
    city = Candidate(instruction="Extract.",
                     demos=(Example("x", {**{f: "text" for f in gen.inputs}, gen.output: "Paris"}),), strategy=DIRECT)
    drawn = _variant("random", city, gen, random.Random(0)).demos[0][gen.output]
    assert isinstance(drawn, str) and drawn


def _probe(shuffled: Interval, random_: Interval, none: Interval) -> Probe:
    base = Variant(name="original", prompt_hash="h", labels=[], kept=4, score=Interval(0.8, 0.7, 0.9))
    vs = [Variant(name=n, prompt_hash="h", labels=[], kept=0, score=Interval(0.5, 0.4, 0.6), difference=d, p_value=0.01)
          for n, d in (("shuffled", shuffled), ("random", random_), ("none", none))]
    return Probe(search="s", trial=0, split="dev", model="m", metric="accuracy", demos=4, example_ids=["a"] * 40,
                 original=base, variants=vs, test="mcnemar", resamples=100, seed=0)


@pytest.mark.parametrize("shuffled, none, finding, words", [
    (Interval(-0.3, -0.4, -0.2), Interval(-0.3, -0.4, -0.2), "mapping", "teach this model the mapping"),
    (Interval(0.0, -0.1, 0.1), Interval(-0.3, -0.4, -0.2), "format", "teach only the format"),
    (Interval(0.0, -0.1, 0.1), Interval(0.2, 0.1, 0.3), "harmful", "the demos hurt"),
    (Interval(0.0, -0.1, 0.1), Interval(-0.05, -0.2, 0.1), "none", "no measurable effect"),
])
def test_reading(shuffled, none, finding, words):
    p = _probe(shuffled, Interval(0.0, -0.1, 0.1), none)
    assert p.finding == finding and words in p.reading and "\n" not in p.reading



def test_probe_end_to_end(tmp_path, capsys, real_model):
    (tmp_path / "space.yaml").write_text(WITH_DEMOS)
    db = ["--db", f"sqlite:///{tmp_path}/p.db"]
    assert main(["optimize", str(TASK), "--space", str(tmp_path / "space.yaml"), "--trials", "2", "--name", "pr",
                 "--dev-limit", "3", *db]) == 0
    capsys.readouterr()
    assert main(["probe", "pr", "--limit", "8", "--seed", "3", *db]) == 0
    out = capsys.readouterr().out
    assert "Demo-label probe: pr" in out and "8 examples" in out
    for row in ("original", "shuffled", "random", "no demos"):
        assert row in out
    assert any(w in out for w in ("teach this model the mapping", "teach only the format", "the demos hurt",
                                  "no measurable effect"))
    store = Store(db[1], create=False)
    record = store.get_search("pr")
    stored = load_probe(store, record)
    assert stored["split"] == "dev" and stored["seed"] == 3 and stored["examples"] == 8
    assert [v["name"] for v in stored["variants"]] == ["shuffled", "random", "none"]
    assert stored["variants"][0]["kept"] < stored["demos"] == 4  # the shuffle moved labels
    assert store.verdicts.latest(record.id) is None  # a probe is not an eval verdict

    # the API gives the same result for the same seed (the evaluator's cache: no model call)
    again = ps.probe(store, "pr", limit=8, seed=3, lm=real_model, save=False)
    assert again.to_dict()["variants"] == stored["variants"] and again.reading == stored["reading"]

    assert main(["show", "pr", *db]) == 0
    assert "Demo-label probe" in capsys.readouterr().out
    report = tmp_path / "r.html"
    assert main(["report", "pr", "-o", str(report), *db]) == 0
    html = report.read_text()
    assert "Demo-label probe" in html and stored["reading"].split(":")[0] in html


def test_probe_of_a_prompt_without_demos_is_one_line(tmp_path, capsys, real_model):
    (tmp_path / "space.yaml").write_text(NO_DEMOS)
    db = ["--db", f"sqlite:///{tmp_path}/p.db"]
    assert main(["optimize", str(TASK), "--space", str(tmp_path / "space.yaml"), "--trials", "1", "--name", "nd",
                 "--dev-limit", "2", *db]) == 0
    capsys.readouterr()
    assert main(["probe", "nd", *db]) == 2
    err = capsys.readouterr().err
    assert "has no demonstrations, so there are no labels to probe" in err and len(err.strip().splitlines()) == 1
    assert main(["probe", "nd", "--split", "train", *db]) == 2
    assert "--split" in capsys.readouterr().err
