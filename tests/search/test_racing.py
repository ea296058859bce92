"""Racing for the lead (search/racing.py) with a scripted fake LM: the rungs, the stopping rule,
what a stopped trial stores and what the race costs. The real model and real SQLite:
tests/cli/test_race_real.py."""
import optuna
import pytest
from psdata import sentiment_rows, write_jsonl
from psfakes import FakeLM

from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.racing import Race, could_lead, sign_p, summary
from promptsearch.search.results import best
from promptsearch.storage import Store


def mean(xs):
    return sum(xs) / len(xs)


def test_rungs_double_up_to_all_of_dev():
    assert Race(start=12).rungs(48) == [12, 24, 48]
    assert Race(start=10).rungs(48) == [10, 20, 40, 48]
    assert Race(start=48).rungs(48) == [48]
    assert Race(start=100).rungs(48) == [48]
    assert Race.over(None, 100).start == 25 and Race.over(None, 10).start == 8 and Race.over(5, 100).start == 5


def test_sign_test_is_exact_and_one_sided():
    assert sign_p(0, 0) == 1.0
    assert sign_p(2, 2) == 0.25 and sign_p(4, 4) == 1 / 16
    assert sign_p(5, 6) == 7 / 64  # P(X >= 5), X ~ Bin(6, 1/2)
    assert sign_p(0, 6) == 1.0


def test_a_candidate_goes_on_unless_the_leaders_lead_is_significant():
    lead = [1.0] * 8
    assert could_lead([1.0] * 8, lead, mean)  # level: could still win
    assert could_lead([0.0, 0.0] + [1.0] * 6, lead, mean)  # 2 of 2 differing lost: p = 0.25
    assert not could_lead([0.0] * 4 + [1.0] * 4, lead, mean)  # 4 of 4: p = 0.0625 < 0.1
    assert could_lead([0.0] * 4 + [1.0] * 4, lead, mean, confidence=0.95)  # not at 0.05
    assert could_lead([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0], mean)  # 2 lost, 1 won: p = 0.5
    assert could_lead([0.0] * 4, [0.0] * 4, mean)  # both wrong everywhere: a tie goes on


@pytest.fixture
def task32(tmp_path):
    d = tmp_path / "task"
    write_jsonl(d / "train.jsonl", sentiment_rows(8))
    write_jsonl(d / "dev.jsonl", sentiment_rows(32, offset=100))
    write_jsonl(d / "test.jsonl", sentiment_rows(4, offset=200))
    (d / "task.yaml").write_text("name: t32\ntrain: train.jsonl\ndev: dev.jsonl\ntest: test.jsonl\n"
                                 "inputs: [review]\noutput: label\nmetric: accuracy\nlabels: [negative, positive]\n")
    return load_task(d / "task.yaml")


@pytest.fixture
def good_and_bad(tmp_path):
    p = tmp_path / "space.yaml"  # the fake LM is always wrong when "BAD" is in the prompt
    p.write_text("name: gb\ninstructions: ['Classify as {labels}.', 'BAD {labels}.', 'Say {labels}.']\n")
    return load_space(p)


def test_a_loser_stops_at_the_first_rung_and_the_leader_gets_all_of_dev(tmp_path, task32, good_and_bad):
    store, lm = Store(f"sqlite:///{tmp_path}/r.db"), FakeLM()
    rec = new_search(store, "r", task32, good_and_bad, "fake",
                     SearchSettings(race=True, race_start=8, sampler="random"))
    run_trials(store, rec, lm, 3)
    study = store.load_study(rec)
    trials = {t.user_attrs["instruction"]: t for t in study.trials if "instruction" in t.user_attrs}
    good, bad, other = trials["Classify as {labels}."], trials["BAD {labels}."], trials["Say {labels}."]
    assert good.number == 0 and good.state == optuna.trial.TrialState.COMPLETE  # no leader yet: all of dev
    assert good.user_attrs["dev_examples"] == 32 and "race_leader" not in good.user_attrs
    assert bad.state == optuna.trial.TrialState.PRUNED  # 8 of 8 lost to the leader: p = 1/256
    assert bad.user_attrs["partial_examples"] == 8 and bad.user_attrs["partial_score"] == 0.0
    assert bad.user_attrs["race_leader"] == 0 and bad.intermediate_values == {8: 0.0}
    assert other.state == optuna.trial.TrialState.COMPLETE  # level with the leader: all of dev
    assert other.user_attrs["dev_examples"] == 32 and other.user_attrs["race_leader"] == 0
    assert other.intermediate_values == {8: 1.0, 16: 1.0, 32: 1.0}
    assert lm.requests == 2 * (32 + 8 + 32)  # two labels per example: the loser cost a quarter
    assert summary(study) == {"dev_examples": 32, "complete": 2, "stopped": 1, "stopped_at": {8: 1},
                              "examples_scored": 72, "examples_without_racing": 96}
    assert best(store, rec).trial == 0


def test_racing_scores_a_batch_rung_by_rung(tmp_path, task32, good_and_bad):
    """--parallel-candidates: the first round has no leader (all of dev); later rounds race."""
    store, lm = Store(f"sqlite:///{tmp_path}/r.db"), FakeLM()
    rec = new_search(store, "r", task32, good_and_bad, "fake",
                     SearchSettings(race=True, race_start=8, sampler="random", parallel_candidates=2))
    run_trials(store, rec, lm, 3)
    study = store.load_study(rec)
    states = {t.user_attrs.get("instruction"): t.state.name for t in study.trials if "instruction" in t.user_attrs}
    assert set(states) == {"Classify as {labels}.", "BAD {labels}.", "Say {labels}."}
    firsts = [t for t in study.trials if t.number < 2]
    assert all(t.user_attrs["dev_examples"] == 32 for t in firsts if t.state.name == "COMPLETE")
    raced = summary(study)
    assert raced["complete"] + raced["stopped"] == 3
    assert raced["examples_scored"] * 2 == lm.requests


@pytest.mark.parametrize(("settings", "message"), [
    ({"race": True, "pruner": "halving"}, "--race: cannot run with --pruner halving"),
    ({"race_start": 8}, "--race-start: only means something with --race"),
    ({"race": True, "race_start": 0}, "--race-start must be at least 1"),
    ({"race": "yes"}, "--race: must be true or false"),
    ({"race": True, "objectives": "score,prompt_tokens"}, "--race: races for the best score"),
])
def test_settings_that_cannot_race_are_one_line_errors(tmp_path, task32, good_and_bad, settings, message):
    store = Store(f"sqlite:///{tmp_path}/r.db")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as e:
        new_search(store, "r", task32, good_and_bad, "fake", SearchSettings(**settings))
    assert "\n" not in str(e.value)
    assert store.list_searches() == []  # nothing written


def test_a_pruner_object_for_this_run_is_refused_on_a_racing_search(tmp_path, task32, good_and_bad):
    store = Store(f"sqlite:///{tmp_path}/r.db")
    rec = new_search(store, "r", task32, good_and_bad, "fake", SearchSettings(race=True))
    with pytest.raises(ConfigError, match="this search races"):
        run_trials(store, rec, FakeLM(), 1, pruner=optuna.pruners.MedianPruner())


def test_workers_race_against_the_leader_any_of_them_found(tmp_path, task32, good_and_bad):
    """Two workers on one search (one after the other here; tests/workers run them as processes):
    the second races against the leader the first one stored."""
    from promptsearch.search.workers import run_worker

    store, lm = Store(f"sqlite:///{tmp_path}/r.db"), FakeLM()
    rec = new_search(store, "w", task32, good_and_bad, "fake", SearchSettings(race=True, race_start=8))
    store.set_trial_target(rec, 1)
    run_worker(store, rec, lm, poll_seconds=0.05)  # the start trial: the leader, on all of dev
    store.set_trial_target(rec, 3)
    run_worker(store, rec, lm, poll_seconds=0.05)
    study = store.load_study(rec)
    stopped = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert [t.user_attrs["instruction"] for t in stopped] == ["BAD {labels}."]
    assert stopped[0].user_attrs["race_leader"] == 0 and stopped[0].user_attrs["partial_examples"] == 8
