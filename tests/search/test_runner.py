"""Logic of the search loop, with the scripted fake LM (the real model is tested in tests/cli)."""
import pytest
from optuna.trial import TrialState

from promptsearch.config import load_space, load_task
from promptsearch.errors import UserError
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import best, leaderboard, trial_counts
from promptsearch.storage import Store


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/s.db")


def _create(store, tiny_task, tiny_space, name="s", **settings):
    return new_search(store, name, load_task(tiny_task), load_space(tiny_space), "fake",
                         SearchSettings(**settings))


def test_runs_the_requested_number_of_trials_and_stores_them(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space)
    events = []
    summary = run_trials(store, rec, fake_lm, 6, on_trial=events.append)
    assert summary.completed == 6 and [e.completed for e in events] == [1, 2, 3, 4, 5, 6]
    assert trial_counts(store, rec)["complete"] == 6
    top = best(store, rec)
    assert top.score == max(e.score for e in events) == events[-1].best
    assert top.candidate.prompt.endswith("Label:") or top.candidate.template == "chat"
    assert len(leaderboard(store, rec, 10)) <= 6


def test_resume_adds_trials_without_replaying(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space)
    run_trials(store, rec, fake_lm, 3)
    run_trials(store, rec, fake_lm, 2)
    assert trial_counts(store, rec)["complete"] == 5


def test_repeated_candidate_is_served_from_the_cache(store, tiny_task, tmp_path, fake_lm):
    space = tmp_path / "one.yaml"
    space.write_text("name: one\ninstructions: ['Classify.']\n")  # a single point: every trial repeats it
    rec = _create(store, tiny_task, space)
    run_trials(store, rec, fake_lm, 3)
    assert fake_lm.calls == 1  # only the first trial ran the model
    assert store.evaluations.count() == 6


def test_dev_limit_is_kept(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space, dev_limit=2)
    run_trials(store, rec, fake_lm, 1)
    assert fake_lm.requests == 2 * 2  # two examples x two labels


def test_a_crash_marks_the_trial_failed_and_keeps_the_rest(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space)
    run_trials(store, rec, fake_lm, 2)

    class Boom(Exception):
        pass

    def explode(requests):
        raise Boom()
    fake_lm.loglikelihood = explode
    with pytest.raises(Boom):
        run_trials(store, rec, fake_lm, 1)
    counts = trial_counts(store, rec)
    assert counts["complete"] == 2 and counts["fail"] == 1


def test_stale_running_trial_is_failed_on_resume(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space)
    store.load_study(rec).ask()  # a trial left RUNNING, as by a killed process
    summary = run_trials(store, rec, fake_lm, 1)
    assert summary.failed_stale == [0]
    counts = trial_counts(store, rec)
    assert counts["fail"] == 1 and counts["complete"] == 1 and counts["running"] == 0


def test_label_tasks_rank_labels(store, tiny_task, tmp_path, fake_lm):
    space = tmp_path / "one.yaml"
    space.write_text("name: one\ninstructions: ['']\n")
    rec = _create(store, tiny_task, space)
    run_trials(store, rec, fake_lm, 1)
    assert best(store, rec).score == 1.0  # the fake LM finds the label word in each review


def test_trials_must_be_positive(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space)
    with pytest.raises(UserError, match="--trials"):
        run_trials(store, rec, fake_lm, 0)


def test_sampler_is_seeded(tmp_path, tiny_task, tiny_space, fake_lm):
    params = []
    for i in range(2):
        store = Store(f"sqlite:///{tmp_path}/seed{i}.db")
        rec = _create(store, tiny_task, tiny_space, seed=7)
        run_trials(store, rec, fake_lm, 4)
        params.append([t.params for t in store.load_study(rec).get_trials(states=(TrialState.COMPLETE,))])
    assert params[0] == params[1]


def test_a_seed_offset_is_the_same_as_a_shifted_seed(tmp_path, tiny_task, tiny_space, fake_lm):
    # Parallel workers pass their own offset so that workers started together draw different
    # start-up points; the offset must reach the sampler exactly as a different seed would.
    def first_params(name, seed, offset):
        store = Store(f"sqlite:///{tmp_path}/{name}.db")
        rec = _create(store, tiny_task, tiny_space, seed=seed, sampler="random")
        run_trials(store, rec, fake_lm, 3, seed_offset=offset)
        return [t.params for t in store.load_study(rec).get_trials(states=(TrialState.COMPLETE,))]
    shifted = first_params("a", 7, 1000)
    assert shifted == first_params("b", 1007, 0)
    assert shifted != first_params("c", 7, 0)


@pytest.mark.parametrize("pruner", ["halving", "wilcoxon"])
def test_pruner_stops_losing_candidates_and_stores_them_as_pruned(tmp_path, tiny_task, fake_lm, pruner):
    from psdata import sentiment_rows, write_jsonl
    write_jsonl(tiny_task.parent / "dev.jsonl", sentiment_rows(48, offset=300))
    space = tmp_path / "two.yaml"
    space.write_text("name: two\ninstructions: ['Classify.', 'BAD one.', 'BAD two.', 'BAD three.']\n"
                     "demos:\n  counts: [0, 2]\n  draws: 3\n")
    store = Store(f"sqlite:///{tmp_path}/p.db")
    rec = _create(store, tiny_task, space, pruner=pruner, chunk_size=8, seed=1)
    events = []
    summary = run_trials(store, rec, fake_lm, 16, on_trial=events.append)
    counts = trial_counts(store, rec)
    assert counts["complete"] + counts["pruned"] == 16 == summary.completed + summary.pruned
    assert counts["pruned"] >= 1
    pruned = [t for t in store.load_study(rec).trials if t.state == TrialState.PRUNED]
    for t in pruned:
        assert 8 <= t.user_attrs["partial_examples"] < 48
        assert 0.0 <= t.user_attrs["partial_score"] <= 1.0
    assert best(store, rec).score == 1.0  # the good instruction still wins, scored on all of dev
    assert [e.state for e in events].count("pruned") == counts["pruned"]


def test_dev_order_is_a_seeded_shuffle(tiny_task):
    from promptsearch.data import load_split
    from promptsearch.search.runner import dev_order
    from promptsearch.search.sampling import PRUNERS, fidelity
    dev = load_split(load_task(tiny_task), "dev")
    halving, none = (fidelity(PRUNERS.get(name)(8), 8) for name in ("halving", "none"))
    a = dev_order(dev, 1, halving)
    assert sorted(e.id for e in a) == sorted(e.id for e in dev)
    assert a == dev_order(dev, 1, halving)
    assert dev_order(dev, 1, none) == dev
