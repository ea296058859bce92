"""The instruction pool as categories (propose/pool.py): no ordered integer, names with fixed
choices, enqueued proposals kept when the pool grows, and old integer-layout searches resumed."""
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState
from test_rounds import Scripted

from promptsearch.config import load_space, load_task
from promptsearch.config.propose import ProposeSpec
from promptsearch.propose import ProposalHook
from promptsearch.propose.pool import enqueue_point, groups, is_pool_param, pool_index, suggest_pool
from promptsearch.propose.rounds import instruction_scores
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.results import proposal_lineage
from promptsearch.storage import Store

ORIGINS = ["seed", "seed", "proposal_0", "proposal_0", "proposal_0"]


def test_groups_are_categories_with_fixed_choices():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        index, origin = suggest_pool(trial, ORIGINS)
        seen.add(index)
        assert ORIGINS[index] == origin and pool_index(trial.params) == index
        study.tell(trial, 0.5)
    assert seen == set(range(5))
    dists = study.trials[-1].distributions
    assert all(isinstance(d, CategoricalDistribution) for d in dists.values())
    assert "instruction" not in {n for t in study.trials for n in t.params}  # never the ordered integer
    # a later round adds a group: new origin parameter, the old groups' choices unchanged
    trial = study.ask()
    suggest_pool(trial, [*ORIGINS, "proposal_1"])
    study.tell(trial, 0.1)
    assert "instruction_origin_3" in trial.params
    for name in ("instruction_seed", "instruction_proposal_0"):
        choices = {t.distributions[name].choices for t in study.trials if name in t.distributions}
        assert len(choices) == 1


def test_an_enqueued_proposal_survives_a_new_round():
    study = optuna.create_study()
    params, attrs = enqueue_point(ORIGINS, 3)
    study.enqueue_trial(params, user_attrs=attrs)
    trial = study.ask()
    # another round was added between the enqueue and the trial: still proposal 3
    assert suggest_pool(trial, [*ORIGINS, "proposal_1", "proposal_1"]) == (3, "proposal_0")


def test_pool_index_reads_both_layouts():
    assert pool_index({"instruction": 4, "n_demos": 2}) == 4
    assert pool_index({"instruction_origin_2": "proposal_0", "instruction_proposal_0": 6}) == 6
    assert pool_index({"n_demos": 2}) == 0
    assert is_pool_param("instruction_origin_3") and is_pool_param("instruction_seed")
    assert not is_pool_param("instructions") and not is_pool_param("n_demos")
    assert groups(ORIGINS) == [("seed", [0, 1]), ("proposal_0", [2, 3, 4])]


class OldLayout(ProposalHook):
    """How proposal searches sampled before pool.py: one integer `instruction`."""

    def __call__(self, ctx):
        super().__call__(ctx)
        ctx.instruction_origins = None

    def _enqueue(self, ctx):
        for row in ctx.store.proposals.not_enqueued(ctx.record.id):
            ctx.study.enqueue_trial({"instruction": row.pool_index}, skip_if_exists=True)
            ctx.store.proposals.mark_enqueued([row.id])


def test_a_search_stored_with_the_integer_layout_resumes_unchanged(tmp_path, tiny_task, tiny_space, fake_lm):
    """A stored propose block without `pool_layout` (made before pool.py) keeps the integer layout,
    so the trials it queued with `instruction` still run their proposal."""
    store = Store(f"sqlite:///{tmp_path}/p.db")
    tiny_space.write_text(tiny_space.read_text() + "start: none\n")  # searches of that time queued no start
    rec = new_search(store, "p", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    spec = ProposeSpec(methods=("induction", "refinement"), every=3, rounds=2, n=3, draws=1)
    run_trials(store, rec, fake_lm, 1, hooks=[OldLayout(spec, Scripted([" judge it", " rate it", " weigh it"]))])
    assert len(store.load_study(rec).get_trials(states=(TrialState.WAITING,))) == 2  # queued, not yet run
    stored = {k: v for k, v in spec.to_dict().items() if k not in ("screen", "pool_layout")}
    old = ProposeSpec.from_dict(stored)
    assert old.pool_layout == "integer" and old.screen is None
    run_trials(store, rec, fake_lm, 5, hooks=[ProposalHook(old, Scripted([" feel the words", " count stars"]))])
    study = store.load_study(rec)
    done = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(done) == 6 and all(not any(n.startswith("instruction_") for n in t.params) for t in done)
    ran = {pool_index(t.params) for t in done}
    lineage = proposal_lineage(store, rec)
    assert {r["index"] for r in lineage if r["round"] == 0 and r["accepted"]} <= ran  # the queued ones ran
    assert lineage[0]["trials"] and set(instruction_scores(study)) == ran
