"""Sampler and pruner registries, and Optuna sampler/pruner objects passed for one run."""
import optuna
import pytest
from optuna.trial import TrialState
from psdata import sentiment_rows, write_jsonl

import promptsearch as ps
from promptsearch.cli.main import build_parser
from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.sampling import PRUNERS, SAMPLERS
from promptsearch.storage import Store


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/s.db")


def _create(store, tiny_task, space, name="s", **settings):
    return new_search(store, name, load_task(tiny_task), load_space(space), "fake", SearchSettings(**settings))


def _params(store, rec):
    return [t.params for t in store.load_study(rec).get_trials(states=(TrialState.COMPLETE,))]


@pytest.mark.parametrize("setting,message", [
    ({"sampler": "grid"}, "--sampler: 'grid' is not a known sampler; allowed: tpe, random"),
    ({"pruner": "median"}, "--pruner: 'median' is not a known pruner; allowed: none, wilcoxon, halving"),
    ({"sampler": optuna.samplers.RandomSampler()},
     "--sampler: a search stores a name (tpe, random); pass an Optuna sampler object to "
     "run_search(..., sampler=...) instead"),
])
def test_unknown_names_are_one_line_listing_the_registered_ones(store, tiny_task, tiny_space, setting, message):
    with pytest.raises(ConfigError) as e:
        _create(store, tiny_task, tiny_space, **setting)
    assert str(e.value) == message
    assert store.find_search("s") is None


@pytest.fixture
def odd_sampler():
    """`odd`: a registered sampler that always takes the last choice of every categorical."""
    class Last(optuna.samplers.RandomSampler):
        def sample_independent(self, study, trial, name, distribution):
            if isinstance(distribution, optuna.distributions.CategoricalDistribution):
                return distribution.choices[-1]
            return super().sample_independent(study, trial, name, distribution)

    SAMPLERS.add("odd", lambda seed: Last(seed=seed))
    yield
    SAMPLERS.remove("odd")


def test_a_registered_sampler_is_stored_by_name_and_used_again_on_resume(store, tiny_task, tiny_space, fake_lm,
                                                                         odd_sampler):
    tiny_space.write_text(tiny_space.read_text() + "start: none\n")  # every trial drawn by the sampler
    rec = _create(store, tiny_task, tiny_space, sampler="odd")
    run_trials(store, rec, fake_lm, 2)
    run_trials(store, store.get_search("s"), fake_lm, 1)  # resume: the name comes from the database
    assert store.get_search("s").settings["sampler"] == "odd"
    # every trial the sampler drew; the one after a repeated candidate is drawn again elsewhere (pipeline.py)
    trials = store.load_study(rec).get_trials()
    drawn = [t for t in trials if t.number == 0 or "repeat_of" not in trials[t.number - 1].user_attrs]
    assert [t.params["template"] for t in drawn] == ["chat"] * 3
    assert build_parser().parse_args(["optimize", "t.yaml", "--sampler", "odd"]).sampler == "odd"


def test_a_sampler_object_is_given_to_optuna_and_recorded(store, tiny_task, tiny_space, fake_lm):
    named = _create(store, tiny_task, tiny_space, name="named", sampler="random", seed=7)
    run_trials(store, named, fake_lm, 3)
    given = _create(store, tiny_task, tiny_space, name="given", sampler="tpe", seed=0)
    run_trials(store, given, fake_lm, 3, sampler=optuna.samplers.RandomSampler(seed=7))
    assert _params(store, given) == _params(store, named)  # the object sampled, not the stored "tpe"
    trials = store.load_study(given).get_trials(states=(TrialState.COMPLETE,))
    assert {t.user_attrs["sampler"] for t in trials} == {"optuna.samplers._random.RandomSampler"}
    assert "sampler" not in store.load_study(named).trials[0].user_attrs
    assert store.get_search("given").settings["sampler"] == "tpe"


def test_a_pruner_object_scores_dev_in_chunks_and_prunes(store, tiny_task, tmp_path, fake_lm):
    write_jsonl(tiny_task.parent / "dev.jsonl", sentiment_rows(48, offset=300))
    space = tmp_path / "two.yaml"
    space.write_text("name: two\ninstructions: ['Classify.', 'BAD one.']\nstart: none\n")
    rec = _create(store, tiny_task, space, chunk_size=8, seed=1)  # settings: no pruner
    study = store.load_study(rec)
    study.enqueue_trial({"instruction": 0})
    study.enqueue_trial({"instruction": 1})
    run_trials(store, rec, fake_lm, 2, pruner=optuna.pruners.ThresholdPruner(lower=0.5))
    good, bad = store.load_study(rec).trials
    assert good.state == TrialState.COMPLETE and good.value == 1.0
    assert bad.state == TrialState.PRUNED and bad.user_attrs["partial_examples"] == 8
    assert bad.user_attrs["pruner"] == "optuna.pruners._threshold.ThresholdPruner"
    assert PRUNERS.names() == ("none", "wilcoxon", "halving")


def test_optimize_takes_sampler_objects(tmp_path, tiny_task, tiny_space, fake_lm):
    store, rec = ps.optimize(tiny_task, tiny_space, trials=2, name="o", db=f"sqlite:///{tmp_path}/o.db",
                             lm=fake_lm, sampler=optuna.samplers.RandomSampler(seed=1), dev_limit=2)
    assert rec.settings["sampler"] == "tpe" and rec.settings["dev_limit"] == 2
    trials = store.load_study(rec).trials
    assert len(trials) == 2 and all(t.user_attrs["sampler"].endswith("RandomSampler") for t in trials)
