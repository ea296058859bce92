"""Scores you can trust, end to end through the CLI on the real embedded model (tiny dev sets):
every metric kind -- built-in, several references, the user's Python function, an LLM judge --
and the bugs that made a score wrong, each as a regression test."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from psdata import write_jsonl

from promptsearch.cli.main import main
from promptsearch.config import load_task
from promptsearch.data import load_split, resolve_metric
from promptsearch.search.results import completed_trials, trial_counts
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHORT = ROOT / "search_spaces" / "short_answer.yaml"


@pytest.fixture
def model(monkeypatch, smollm):
    """The CLI's model loads reuse the session's embedded model (loaded once)."""
    monkeypatch.setattr("promptsearch.service.models.load_model", lambda spec=None, **kw: smollm)
    return smollm


def _space(tmp_path: Path, instruction: str = "Answer.", counts: str = "[0]") -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(f"name: one\ninstructions: [{json.dumps(instruction)}]\ndemos:\n  counts: {counts}\n")
    return p


def _evaluations(db: Path) -> list[tuple[str, str, str, float]]:
    with sqlite3.connect(db) as con:
        return con.execute("select model, decoding, prediction, score from ps_evaluations").fetchall()


def _content(db: Path) -> str:
    if not db.exists():
        return "absent"
    with sqlite3.connect(db) as con:
        return "\n".join(con.iterdump())


# ----------------------------------------------------------------------------- each metric kind

def test_builtin_f1_with_several_answers(tmp_path, model, capsys):
    db = tmp_path / "qa.db"
    assert main(["optimize", str(EXAMPLES / "everyday_qa.yaml"), "--space", str(SHORT), "--trials", "2",
                 "--dev-limit", "4", "--db", f"sqlite:///{db}"]) == 0
    task = load_task(EXAMPLES / "everyday_qa.yaml")
    metric = resolve_metric(task)
    dev = {e.id: e for e in load_split(task, "dev", 4)}
    assert any(len(e.references) > 1 for e in dev.values())
    with sqlite3.connect(db) as con:
        rows = con.execute("select model, decoding, example_id, prediction, score from ps_evaluations").fetchall()
    assert rows
    for fp, decoding, example_id, prediction, score in rows:  # the best F1 over the example's answers
        assert fp == model.fingerprint and decoding.endswith(":f1")
        assert score == pytest.approx(metric.score(prediction, dev[example_id]))
        assert score == pytest.approx(max(resolve_metric(task).score(prediction, _only(dev[example_id], ref))
                                          for ref in dev[example_id].references))
    store = Store(f"sqlite:///{db}", create=False)
    assert len(completed_trials(store, store.get_search("everyday-qa"))) == 2


def _only(example, reference):
    """The example with a single acceptable answer."""
    from promptsearch.data.dataset import Example
    return Example(example.id, {**example.fields, "answer": reference}, (reference,))


def test_python_metric_end_to_end(tmp_path, model):
    db = tmp_path / "py.db"
    assert main(["optimize", str(EXAMPLES / "contact_json.yaml"), "--space", str(SHORT), "--trials", "1",
                 "--dev-limit", "2", "--db", f"sqlite:///{db}"]) == 0
    rows = _evaluations(db)
    assert rows and all(":py:" in decoding for _, decoding, _, _ in rows)
    assert {score for *_, score in rows} <= {0.0, 0.5, 1.0}
    store = Store(f"sqlite:///{db}", create=False)
    record = store.get_search("contact-json")
    assert set(record.task["fingerprints"]) == {"train", "dev", "test", "metric"}


def test_python_metric_that_raises_fails_the_trial_and_keeps_the_search(tmp_path, model, capsys):
    d = tmp_path / "t"
    rows = [{"q": "Say hi.", "a": "hi"}, {"q": "Say bye.", "a": "bye"}]
    for split in ("train", "dev", "test"):
        write_jsonl(d / f"{split}.jsonl", rows)
    (d / "m.py").write_text("def score(example, prediction):\n"
                            "    if example['a'] == 'bye':\n        raise KeyError('oops')\n    return 1.0\n")
    (d / "task.yaml").write_text("name: boom\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [q]\noutput: a\nmetric: m.py:score\n")
    db = f"sqlite:///{tmp_path}/boom.db"
    assert main(["optimize", str(d / "task.yaml"), "--space", str(_space(tmp_path)), "--trials", "1",
                 "--max-new-tokens", "4", "--db", db]) == 2
    err = capsys.readouterr().err.strip()
    bye = next(e for e in load_split(load_task(d / "task.yaml"), "dev") if e["a"] == "bye")
    assert err == (f"error: metric m.py:score raised KeyError: 'oops' on example {bye.id}; search 'boom' is saved "
                   f"with 0 completed trials: fix this, then continue with `promptsearch resume boom --trials N`")
    store = Store(db, create=False)
    assert trial_counts(store, store.get_search("boom"))["fail"] == 1
    assert main(["show", "boom", "--db", db]) == 0


def test_feedback_is_shown_by_show_and_report(tmp_path, model, capsys):
    d = tmp_path / "t"
    for split in ("train", "dev", "test"):
        write_jsonl(d / f"{split}.jsonl", [{"q": "Say hi.", "a": "hi"}, {"q": "Say [b]bye[/b].", "a": "bye"}])
    (d / "m.py").write_text("def score(example, prediction):\n"
                            "    return 0.5, f\"[red]half[/red] for {example['a']}\"\n")
    (d / "task.yaml").write_text("name: fb\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [q]\noutput: a\nmetric: m.py:score\n")
    url = f"sqlite:///{tmp_path}/fb.db"
    assert main(["optimize", str(d / "task.yaml"), "--space", str(_space(tmp_path)), "--trials", "1",
                 "--max-new-tokens", "4", "--db", url]) == 0
    capsys.readouterr()
    with sqlite3.connect(tmp_path / "fb.db") as con:  # kept with each evaluation, too
        assert sorted(r[0] for r in con.execute("select feedback from ps_evaluations")) == \
            ["[red]half[/red] for bye", "[red]half[/red] for hi"]
    assert main(["show", "fb", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "Why trial 0 lost points" in out and "[red]half[/red] for bye" in out  # printed literally
    report = tmp_path / "fb.html"
    assert main(["report", "fb", "-o", str(report), "--db", url]) == 0
    assert "Why it lost points" in report.read_text() and "[red]half[/red] for hi" in report.read_text()


def test_judge_end_to_end(tmp_path, model):
    db = tmp_path / "judge.db"
    assert main(["optimize", str(EXAMPLES / "explain_judge.yaml"), "--space", str(SHORT), "--trials", "1",
                 "--dev-limit", "2", "--db", f"sqlite:///{db}"]) == 0
    rows = _evaluations(db)
    assert len(rows) == 2 and all(":judge:" in decoding for _, decoding, _, _ in rows)
    assert all(0.0 < score < 1.0 for *_, score in rows)  # graded P(Yes), not a 0/1 verdict
    assert main(["eval", "explain-judge", "--limit", "2", "--resamples", "200", "--db", f"sqlite:///{db}"]) == 0
    store = Store(f"sqlite:///{db}", create=False)
    from promptsearch.verdict import load_verdict
    verdict = load_verdict(store, store.get_search("explain-judge"))
    assert verdict["test"] == "Wilcoxon signed-rank"  # graded scores: no McNemar


# ----------------------------------------------------------------------------- regressions

def _label_task(tmp_path: Path, labels: list[str], dev_gold: list[str], review: str = "It was fine.") -> Path:
    d = tmp_path / "labels"
    write_jsonl(d / "train.jsonl", [{"review": f"Review {i}.", "label": lab} for i, lab in enumerate(labels)])
    write_jsonl(d / "dev.jsonl", [{"review": review, "label": g} for g in dev_gold])
    write_jsonl(d / "test.jsonl", [{"review": review, "label": labels[0]}])
    (d / "task.yaml").write_text(f"name: lab\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 f"inputs: [review]\noutput: label\nmetric: accuracy\nlabels: {json.dumps(labels)}\n")
    return d / "task.yaml"


@pytest.mark.parametrize("labels", [["-1", "1"], ["Positive", "positive"], ["C", "C++"]])
def test_labels_are_compared_exactly_as_declared(tmp_path, model, labels):
    """Two dev rows with the same input and different gold labels: one prediction for both, so
    exactly one is right. Compared through normalize() both were scored 1.0."""
    task = _label_task(tmp_path, labels, labels)
    db = tmp_path / "l.db"
    assert main(["optimize", str(task), "--space", str(_space(tmp_path)), "--trials", "1",
                 "--db", f"sqlite:///{db}"]) == 0
    scores = sorted(score for *_, score in _evaluations(db))
    assert scores == [0.0, 1.0]
    store = Store(f"sqlite:///{db}", create=False)
    assert [t.value for t in completed_trials(store, store.get_search("lab"))] == [0.5]


def test_a_label_that_is_a_token_prefix_of_another_is_named(tmp_path, model, capsys):
    task = _label_task(tmp_path, ["1", "10"], ["1", "10"])
    db = f"sqlite:///{tmp_path}/p.db"
    assert main(["optimize", str(task), "--space", str(_space(tmp_path)), "--trials", "1", "--db", db]) == 0
    err = capsys.readouterr().err
    assert ("warning: label '1' is a token prefix of '10': under summed log-probability '10' can never win; "
            "pass --label-scoring mean") in err
    assert main(["optimize", str(task), "--space", str(_space(tmp_path)), "--trials", "1", "--db", db,
                 "--name", "fair", "--label-scoring", "mean"]) == 0
    assert "token prefix" not in capsys.readouterr().err
    store = Store(db, create=False)
    assert store.get_search("fair").settings["label_scoring"] == "mean"
    keys = {decoding for _, decoding, _, _ in _evaluations(tmp_path / "p.db")}
    assert any(k.startswith("rank:mean:") for k in keys) and any(k.startswith("rank:sum:") for k in keys)


def test_max_new_tokens_at_the_context_length_is_an_error(tmp_path, model, capsys):
    db = tmp_path / "m.db"
    code = main(["optimize", str(EXAMPLES / "city_extraction.yaml"), "--space", str(_space(tmp_path)),
                 "--trials", "1", "--dev-limit", "1", "--max-new-tokens", "8192", "--db", f"sqlite:///{db}"])
    assert code == 2
    assert capsys.readouterr().err.strip() == ("error: --max-new-tokens: 8192 is not below the model's context of "
                                               "8192 tokens, so no prompt would fit; use a small answer budget "
                                               "(default 32)")
    assert Store(f"sqlite:///{db}").list_searches() == []


def test_a_prompt_longer_than_the_context_is_an_error(tmp_path, model, capsys):
    """Each example fits on its own; 6 demos of the longest ones do not (cut silently before)."""
    d = tmp_path / "long"
    long_review = "The room was clean and the staff were kind. " * 150  # ~1500 tokens
    write_jsonl(d / "train.jsonl", [{"review": long_review, "label": lab} for lab in ["negative", "positive"] * 3])
    write_jsonl(d / "dev.jsonl", [{"review": "Lovely stay.", "label": "positive"}])
    write_jsonl(d / "test.jsonl", [{"review": "Awful stay.", "label": "negative"}])
    (d / "task.yaml").write_text("name: long\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [review]\noutput: label\nlabels: [negative, positive]\n")
    db = tmp_path / "long.db"
    code = main(["optimize", str(d / "task.yaml"), "--space", str(_space(tmp_path, counts="[0, 6]")),
                 "--trials", "1", "--db", f"sqlite:///{db}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: the longest prompt does not fit the model's context: ")
    assert "6 demos from the longest train examples" in err and "> 8192 tokens" in err
    assert Store(f"sqlite:///{db}").list_searches() == []


@pytest.mark.parametrize("command", ["resume", "worker", "eval"])
def test_changed_dev_data_is_refused(tmp_path, model, capsys, command):
    task = _label_task(tmp_path, ["negative", "positive"], ["negative", "positive"], review="Not bad at all.")
    db = tmp_path / "r.db"
    url = f"sqlite:///{db}"
    assert main(["optimize", str(task), "--space", str(_space(tmp_path)), "--trials", "1", "--db", url]) == 0
    capsys.readouterr()
    dev = task.parent / "dev.jsonl"
    dev.write_text(dev.read_text() + json.dumps({"review": "Great.", "label": "positive"}) + "\n")
    before = _content(db)
    argv = {"resume": ["resume", "lab", "--trials", "1"], "worker": ["worker", "lab", "--trials", "1"],
            "eval": ["eval", "lab"]}[command]
    assert main([*argv, "--db", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {dev.resolve()}: the dev file of search 'lab' has changed since the search was "
                          f"created, and its scores would mix old and new data; restore the file, or start a new "
                          f"search with the same settings: promptsearch optimize {task} --space ")
    assert err.endswith("--name lab-2") and "\n" not in err
    assert _content(db) == before


def test_a_changed_python_metric_is_refused(tmp_path, model, capsys):
    d = tmp_path / "t"
    for split in ("train", "dev", "test"):
        write_jsonl(d / f"{split}.jsonl", [{"q": "Say hi.", "a": "hi"}])
    (d / "m.py").write_text("def score(example, prediction):\n    return 1.0\n")
    (d / "task.yaml").write_text("name: pm\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [q]\noutput: a\nmetric: m.py:score\n")
    url = f"sqlite:///{tmp_path}/pm.db"
    assert main(["optimize", str(d / "task.yaml"), "--space", str(_space(tmp_path)), "--trials", "1",
                 "--max-new-tokens", "4", "--db", url]) == 0
    (d / "m.py").write_text("def score(example, prediction):\n    return 0.0\n")
    assert main(["resume", "pm", "--trials", "1", "--db", url]) == 2
    assert f"error: {(d / 'm.py').resolve()}: the metric file of search 'pm' has changed" in capsys.readouterr().err


def test_two_model_folders_with_the_same_name_do_not_share_scores(tmp_path, capsys):
    """runs/a/checkpoint-500 and runs/b/checkpoint-500 hold different weights: the second search
    must score every example with its own model (the cache was keyed by the folder's name)."""
    from psmodels import tiny_checkpoint

    a = tiny_checkpoint(tmp_path / "runs" / "a" / "checkpoint-500", seed=1)
    b = tiny_checkpoint(tmp_path / "runs" / "b" / "checkpoint-500", seed=2)
    task = _label_task(tmp_path, ["negative", "positive"], ["negative", "positive", "negative"])
    url = f"sqlite:///{tmp_path}/two.db"
    space = _space(tmp_path)
    for name, ckpt in (("first", a), ("second", b)):
        assert main(["optimize", str(task), "--space", str(space), "--trials", "1", "--name", name,
                     "--model", str(ckpt), "--device", "cpu", "--db", url]) == 0
        assert "3 examples scored by the model" in capsys.readouterr().out
    assert len({fp for fp, *_ in _evaluations(tmp_path / "two.db")}) == 2
