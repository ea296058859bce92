"""The winner's evidence on dev (verdict/dev.py) from the per-example dev scores every complete
trial stores (search/devscores.py)."""
from pathlib import Path

import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.devscores import DEV_SCORES_ATTR, MAX_STORED, dev_scores, pack_scores, unpack_scores
from promptsearch.search.results import completed_trials
from promptsearch.storage import Store
from promptsearch.storage.store import trial_score
from promptsearch.verdict import stats
from promptsearch.verdict.dev import DevEvidence, dev_evidence

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bad_first(tiny_space) -> Path:
    """A space whose first instruction (the start trial's) the fake LM always gets wrong."""
    tiny_space.write_text(tiny_space.read_text().replace("  - 'Classify as {labels}.'\n",
                                                         "  - 'BAD: classify as {labels}.'\n"))
    return tiny_space


def test_scores_pack_compactly_and_round_trip():
    assert pack_scores([1.0, 0.0, 1.0]) == "101" and unpack_scores("101") == [1.0, 0.0, 1.0]
    assert pack_scores([0.5, 1.0, 0.1234567]) == [0.5, 1.0, 0.123457]
    assert unpack_scores([0.5, 1, 0.25]) == [0.5, 1.0, 0.25]
    assert pack_scores([1.0] * (MAX_STORED + 1)) is None
    for foreign in (None, "abc", [True, False], {"a": 1}, ["1"]):
        assert unpack_scores(foreign) is None


def test_every_complete_trial_stores_its_dev_scores(tmp_path, tiny_task, bad_first, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(bad_first), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 4)
    trials = completed_trials(store, rec)
    assert len(trials) == 4
    for t in trials:
        scores = dev_scores(t)
        assert scores is not None and len(scores) == t.user_attrs["dev_examples"] == 6
        assert sum(scores) / len(scores) == pytest.approx(trial_score(t))


def test_parallel_candidates_store_dev_scores_too(tmp_path, tiny_task, bad_first, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(bad_first), "fake",
                        SearchSettings(parallel_candidates=2))
    run_trials(store, rec, fake_lm, 4)
    for t in completed_trials(store, rec):
        assert sum(dev_scores(t)) / 6 == pytest.approx(trial_score(t))


def test_the_winner_against_the_start_prompt(tmp_path, tiny_task, bad_first, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(bad_first), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 4)
    e = dev_evidence(store, rec)
    assert e is not None and e.baseline_trial == 0 and e.baseline_is_start
    assert e.best_trial == ps.best(store, rec).trial != 0
    assert (e.baseline_score, e.best_score, e.examples) == (0.0, 1.0, 6)
    # six discordant pairs, all one way: exact McNemar p = 2 / 2**6
    assert e.test == "exact McNemar" and e.p_value == pytest.approx(2 / 64) and e.significant
    assert e.difference.estimate == 1.0 and "beats trial 0 (the start prompt)" in e.reading()
    assert ps.dev_evidence(store, "s").to_dict() == e.to_dict()


def test_no_evidence_without_a_rival_or_without_stored_scores(tmp_path, tiny_task, tiny_space, fake_lm,
                                                             monkeypatch):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "one", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 1)
    assert dev_evidence(store, rec) is None  # the first trial is the only one
    # trials from before the scores were kept: no attribute, so no comparison (never a wrong one)
    monkeypatch.setattr("promptsearch.search.devscores.pack_scores", lambda scores: None)
    old = new_search(store, "old", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings(seed=1))
    run_trials(store, old, fake_lm, 4)
    assert all(DEV_SCORES_ATTR not in t.user_attrs for t in completed_trials(store, old))
    assert dev_evidence(store, old) is None


def test_a_gain_dev_cannot_tell_from_noise_says_so():
    e = DevEvidence(best_trial=7, baseline_trial=0, baseline_is_start=True, examples=40, best_score=0.825,
                    baseline_score=0.7, difference=stats.Interval(0.125, -0.05, 0.3), test="exact McNemar",
                    p_value=0.27)
    assert not e.significant
    assert e.reading().startswith("dev evidence: trial 7 is not distinguishable from trial 0 (the start prompt) "
                                  "on dev: +0.1250 [-0.0500, +0.3000] over 40 dev examples, exact McNemar p = 0.27")
    assert "may be noise" in e.reading() and "promptsearch eval" in e.reading()
    worse = DevEvidence(best_trial=7, baseline_trial=0, baseline_is_start=False, examples=40, best_score=0.6,
                        baseline_score=0.7, difference=stats.Interval(-0.1, -0.2, 0.0), test="Wilcoxon signed-rank",
                        p_value=0.01)
    assert not worse.significant and "trial 0 (the first trial)" in worse.reading()


def test_show_and_report_print_the_evidence(tmp_path, tiny_task, bad_first, fake_model, capsys):
    db = f"sqlite:///{tmp_path}/s.db"
    assert main(["optimize", str(tiny_task), "--space", str(bad_first), "--trials", "4", "--name", "s",
                 "--db", db]) == 0
    assert "dev evidence: trial" in capsys.readouterr().out
    assert main(["show", "s", "--db", db]) == 0
    assert "beats trial 0 (the start prompt)" in capsys.readouterr().out
    assert main(["report", "s", "--db", db, "-o", str(tmp_path / "r.html")]) == 0
    assert "beats trial 0 (the start prompt)" in (tmp_path / "r.html").read_text()


def test_real_model_trials_store_their_dev_scores(tmp_path, smollm, capsys):
    """The embedded model on the bundled task: the stored per-example scores are the trials' dev
    scores, and the evidence is the paired test of the stored scores of the best and first trials."""
    db = f"sqlite:///{tmp_path}/r.db"
    assert main(["optimize", str(ROOT / "examples/review_sentiment.yaml"), "--space",
                 str(ROOT / "search_spaces/default.yaml"), "--trials", "3", "--dev-limit", "24", "--name", "r",
                 "--db", db]) == 0
    store = Store(db, create=False)
    rec = store.get_search("r")
    trials = {t.number: t for t in completed_trials(store, rec)}
    for t in trials.values():
        assert sum(dev_scores(t)) / 24 == pytest.approx(trial_score(t))
    e = ps.dev_evidence(store, rec)
    top = ps.best(store, rec).trial
    if top == 0:
        assert e is None
        return
    a, b = dev_scores(trials[top]), dev_scores(trials[0])
    assert e.p_value == stats.mcnemar_exact(a, b) and e.difference.estimate == pytest.approx(
        trial_score(trials[top]) - trial_score(trials[0]))
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert f"dev evidence: trial {top}" in out and f"p = {e.p_value:.2g}" in out
