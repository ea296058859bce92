"""`show --examples` and `compare` on a real search (embedded model, real SQLite): per-example
predictions mapped back from ps_evaluations to the dev examples, printed literally."""
import json

import pytest
import sqlalchemy as sa
from optuna.trial import TrialState
from psafter import DEV, MARKUP, real_search

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.search.devscores import dev_scores
from promptsearch.search.results import best, completed_trials
from promptsearch.storage.models import EvaluationRow
from promptsearch.verdict import stats


@pytest.fixture(scope="module")
def real(tmp_path_factory, smollm):
    return real_search(tmp_path_factory.mktemp("examples"), smollm, trials=4)


def _stored(store, prompt_hash):
    rows = store.db.read(lambda s: list(s.scalars(sa.select(EvaluationRow).where(
        EvaluationRow.prompt_hash == prompt_hash))))
    return {r.example_id: r for r in rows}


def test_show_examples_json_is_what_the_trial_stored(real, capsys):
    db, store, record = real
    assert main(["show", "after", "--examples", "--format", "json", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    top = best(store, record)
    assert out["trial"] == top.trial and out["score"] == top.score and out["dev_examples"] == len(DEV)
    assert [e["inputs"]["review"] for e in out["examples"]] == [r["review"] for r in DEV]
    assert [e["expected"] for e in out["examples"]] == [[r["label"]] for r in DEV]
    rows = _stored(store, top.candidate.prompt_hash)
    for e in out["examples"]:
        assert e["prediction"] == rows[e["example_id"]].prediction
        assert e["score"] == rows[e["example_id"]].score
    trial = next(t for t in completed_trials(store, record) if t.number == top.trial)
    assert [e["score"] for e in out["examples"]] == dev_scores(trial)
    confusion = out["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == len(DEV)
    for label in ("negative", "positive"):  # the expected label of each row
        assert sum(confusion[label].values()) == sum(r["label"] == label for r in DEV)


def test_show_examples_wrong_limit_and_literal_text(real, capsys):
    db, store, _record = real
    every = ps.trial_examples(store, "after")
    lost = [o for o in every.outcomes if o.score < 1]
    assert lost  # example 3 is labelled against its words
    assert main(["show", "after", "--examples", "--wrong", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"{len(DEV)} dev examples, points lost on {len(lost)}; showing {len(lost)}" in out
    assert out.count("  prediction: ") == len(lost)
    for o in lost:
        assert f"#{o.position}  score" in out and f"  prediction: {o.prediction}" in out
    assert main(["show", "after", "--examples", "--limit", "2", "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.count("  prediction: ") == 2
    assert MARKUP in out  # rich markup in the data is printed as it is, never interpreted
    assert ps.trial_examples(store, "after", wrong=True, limit=1).shown == lost[:1]


def test_compare_lists_differences_and_the_paired_test(real, capsys):
    db, store, record = real
    trials = sorted(completed_trials(store, record), key=lambda t: t.number)
    a, b = trials[0].number, trials[-1].number
    assert main(["compare", "after", str(a), str(b), "--format", "json", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    ea, eb = ps.trial_examples(store, "after", a), ps.trial_examples(store, "after", b)
    differ = [x.position for x, y in zip(ea.outcomes, eb.outcomes)
              if (x.prediction, x.score) != (y.prediction, y.score)]
    assert [d["position"] for d in out["differences"]] == differ
    sa_, sb_ = dev_scores(trials[0]), dev_scores(trials[-1])
    assert (out["test"], out["p_value"]) == stats.paired_test(sa_, sb_)
    assert out["difference"]["estimate"] == pytest.approx(sum(sa_) / len(sa_) - sum(sb_) / len(sb_))
    result = ps.compare_trials(store, "after", a, b)
    assert result.to_dict() == out
    assert main(["compare", "after", str(a), str(b), "--db", db]) == 0
    text = capsys.readouterr().out
    assert f"they differ on {len(differ)}" in text and result.reading() in " ".join(text.split("\n"))


@pytest.mark.parametrize("argv, message", [
    (["show", "after", "--examples", "--trial", "99"], "--trial 99: search 'after' has no trial 99"),
    (["compare", "after", "0", "0"], "trials A and B are both 0"),
    (["compare", "after", "0", "77"], "B 77: search 'after' has no trial 77"),
    (["show", "after", "--wrong"], "--wrong needs --examples"),
    (["show", "after", "--examples", "--limit", "0"], "--limit must be at least 1"),
])
def test_bad_input_is_one_line(real, capsys, argv, message):
    db, *_ = real
    assert main([*argv, "--db", db]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_trial_that_did_not_complete_is_refused(real, capsys):
    db, store, record = real
    study = store.load_study(record)
    failed = study.ask()
    study.tell(failed, state=TrialState.FAIL)
    assert main(["show", "after", "--examples", "--trial", str(failed.number), "--db", db]) == 2
    err = capsys.readouterr().err
    assert f"trial {failed.number} of search 'after' is failed" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ps.UserError, match="is failed"):
        ps.compare_trials(store, "after", 0, failed.number)


def test_a_generation_task_shows_the_metrics_feedback(tmp_path, smollm, capsys):
    """A Python metric that explains lost points (examples/contact_metric.py): its feedback is shown."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "space.yaml").write_text("name: g\ninstructions: ['Write the record as JSON.']\n"
                                         "demos: {counts: [0]}\ncot_triggers: [null]\ntemplates: [plain]\n")
    db = f"sqlite:///{tmp_path}/g.db"
    store, record = ps.optimize(root / "examples" / "contact_json.yaml", tmp_path / "space.yaml", trials=1,
                                name="g", db=db, lm=smollm, dev_limit=3, max_new_tokens=24)
    found = ps.trial_examples(store, "g")
    assert len(found.outcomes) == 3 and found.confusion() is None
    rows = _stored(store, best(store, record).candidate.prompt_hash)
    assert [(o.prediction, o.score, o.feedback) for o in found.outcomes] == [
        (rows[o.example_id].prediction, rows[o.example_id].score, rows[o.example_id].feedback) for o in found.outcomes]
    said = [o for o in found.outcomes if o.feedback]
    assert said  # a 135M model does not write three perfect records with no example
    assert main(["show", "g", "--examples", "--wrong", "--db", db]) == 0
    out = capsys.readouterr().out
    for o in said:
        assert f"  feedback: {o.feedback}" in out
