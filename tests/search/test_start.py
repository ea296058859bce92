"""A new search's first trial is the hand-written-style prompt (search/start.py)."""
from pathlib import Path

import pytest

import promptsearch as ps
from promptsearch.config import load_space, load_task
from promptsearch.errors import UserError
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import finished_trials, leaderboard
from promptsearch.search.start import START_ATTR, nearest_count, start_point
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/s.db")


def test_demo_count_nearest_four_ties_take_the_larger():
    assert nearest_count((0, 2, 4, 8)) == 4
    assert nearest_count((0, 3, 5, 8)) == 5
    assert nearest_count((0, 1, 2)) == 2
    assert nearest_count((0, 16)) == 0


def test_start_point_is_each_first_choice_with_a_few_demos(tiny_task):
    params, attrs = start_point(load_space(ROOT / "search_spaces/formats.yaml"), load_task(tiny_task))
    assert params["instruction"] == 0 and params["n_demos"] == 4 and params["cot_trigger"] == "none"
    assert params["template"] == "plain" and params["demo_draw"] == 0
    assert (params["format_separator"], params["format_spacing"]) == (": ", "blank")  # today's format
    assert attrs == {START_ATTR: True}


def test_with_proposals_the_start_is_pinned_to_the_seed_group(tiny_task):
    params, attrs = start_point(load_space(ROOT / "search_spaces/propose.yaml"), load_task(tiny_task))
    assert params["instruction_seed"] == 0 and "instruction" not in params
    assert attrs["instruction_groups"] == 1  # still the first seed after a proposal round


def test_trial_zero_is_the_start_point_and_the_rest_are_sampled(store, tiny_task, tiny_space, fake_lm):
    rec = new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, rec, fake_lm, 3)
    trials = finished_trials(store, rec)
    expected, _ = start_point(load_space(tiny_space), load_task(tiny_task))
    assert trials[0].params == expected and trials[0].user_attrs[START_ATTR] is True
    assert all(START_ATTR not in t.user_attrs for t in trials[1:])


def test_start_none_queues_nothing(store, tiny_task, tiny_space, fake_lm):
    tiny_space.write_text(tiny_space.read_text() + "start: none\n")
    rec = new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    assert store.load_study(rec).trials == []  # nothing queued


def test_unknown_start_is_a_one_line_error(tiny_space):
    tiny_space.write_text(tiny_space.read_text() + "start: best\n")
    with pytest.raises(UserError, match=r"field 'start' is 'best'; allowed: auto, none"):
        load_space(tiny_space)


def test_real_model_search_is_never_below_its_start_on_dev(tmp_path, smollm):
    """The embedded model on the bundled task: trial 0 renders the first instruction with 4
    demos in today's format, and the search's best on dev is at least its score."""
    store = ps.Store(f"sqlite:///{tmp_path}/r.db")
    rec = ps.create_search(store, "r", ROOT / "examples/review_sentiment.yaml", ROOT / "search_spaces/default.yaml",
                           lm=smollm, dev_limit=8)
    ps.run_search(store, rec, 3, lm=smollm)
    first = finished_trials(store, rec)[0]
    start = next(e for e in leaderboard(store, rec, 10) if e.trial == first.number)
    assert first.user_attrs[START_ATTR] is True
    assert start.candidate.prompt.startswith("Classify the review. Answer with one of: negative, positive.")
    assert start.candidate.prompt.count("Label: ") == 4  # four demos, today's `Field: value` format
    assert ps.best(store, rec).score >= start.score


def test_the_start_trial_comes_before_the_random_start_up_not_instead(tmp_path, tiny_task, tiny_space, fake_lm):
    """With the start trial, trials 1..5 draw exactly what trials 0..4 draw without it (same seed):
    TPE's five random start-up points are all still there."""
    off = tmp_path / "off.yaml"
    off.write_text(tiny_space.read_text() + "start: none\n")
    runs = {}
    for name, space in (("on", tiny_space), ("off", off)):
        store = Store(f"sqlite:///{tmp_path}/{name}.db")
        rec = new_search(store, name, load_task(tiny_task), load_space(space), "fake", SearchSettings(seed=3))
        run_trials(store, rec, fake_lm, 6)
        trials = store.load_study(rec).get_trials()
        # what TPE drew: a repeated candidate is kept (failed), its replacement is drawn elsewhere (pipeline.py)
        runs[name] = [t.params for t in trials if t.number == 0 or "repeat_of" not in trials[t.number - 1].user_attrs]
    assert runs["on"][1:6] == runs["off"][0:5]
