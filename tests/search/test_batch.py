"""Several candidates per batch (--parallel-candidates, search/pipeline.py) with the scripted fake LM:
the same points and scores as k = 1 under a random sampler, one model call per batch, refusals,
failures and a process killed mid-batch. The real model: tests/cli/test_parallel.py."""
import multiprocessing
import os
from typing import ClassVar

import optuna
import pytest
from optuna.trial import TrialState

from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.budget import split_usage
from promptsearch.search.claims import Claims
from promptsearch.search.sampling import make_sampler
from promptsearch.storage import Store


def _create(store, task, space, name="s", **settings):
    return new_search(store, name, load_task(task), load_space(space), "fake", SearchSettings(**settings))


def _trials(store, rec):
    study = store.load_study(rec)
    return [(t.number, t.state.name, t.params, t.value) for t in study.get_trials(deepcopy=False)]


def _scored_states(store, rec):
    """The states of the trials that scored a candidate: a repeat is a failed trial that says so."""
    return [t.state.name for t in store.load_study(rec).get_trials() if "repeat_of" not in t.user_attrs]


def test_random_sampler_gives_the_same_trials_as_one_at_a_time(tmp_path, tiny_task, tiny_space, fake_lm):
    one = Store(f"sqlite:///{tmp_path}/one.db")
    rec1 = _create(one, tiny_task, tiny_space, sampler="random", seed=5)
    run_trials(one, rec1, fake_lm, 10)
    calls_one = fake_lm.calls
    four = Store(f"sqlite:///{tmp_path}/four.db")
    rec4 = _create(four, tiny_task, tiny_space, sampler="random", seed=5, parallel_candidates=4)
    events = []
    fake_lm.calls = 0
    summary = run_trials(four, rec4, fake_lm, 10, on_trial=events.append)
    assert _trials(four, rec4) == _trials(one, rec1)  # same points, same scores, same order
    assert summary.completed == 10 and [e.completed for e in events] == list(range(1, 11))
    complete = [t.number for t in four.load_study(rec4).get_trials(states=(TrialState.COMPLETE,))]
    assert [e.number for e in events] == complete  # a repeated candidate's trial is not scored (pipeline.py)
    assert fake_lm.calls <= 3 < calls_one  # batches of 4, 4, 2: one loglikelihood call each


def test_a_batch_is_one_model_call(tmp_path, tiny_task, fake_lm):
    space = tmp_path / "three.yaml"
    space.write_text("name: three\ninstructions: ['Classify.', 'Label it.', 'Sentiment?']\n")  # 3 candidates
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = _create(store, tiny_task, space, parallel_candidates=3)
    events = []
    run_trials(store, rec, fake_lm, 3, on_trial=events.append)
    assert fake_lm.calls == 1 and fake_lm.requests == 3 * 6 * 2  # 3 prompts x 6 dev examples x 2 labels
    assert [e.examples_computed for e in events] == [6, 6, 6] and store.evaluations.count() == 18


def test_the_setting_is_stored_and_kept_by_resume(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=4)
    run_trials(store, rec, fake_lm, 3)  # fewer trials than k: one batch of 3
    assert fake_lm.calls == 1
    rec = store.get_search("s")
    assert rec.settings["parallel_candidates"] == 4
    run_trials(store, rec, fake_lm, 5)  # batches of 4 and 1
    assert fake_lm.calls <= 3
    assert _scored_states(store, rec) == ["COMPLETE"] * 8


def test_tpe_uses_its_constant_liar_only_for_batches():
    assert make_sampler("tpe", 0, 4) is not None  # builds; a batch of TPE trials completes below
    assert isinstance(make_sampler("random", 0, 4), optuna.samplers.RandomSampler)


def test_tpe_batches_complete(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=4)
    assert run_trials(store, rec, fake_lm, 8).completed == 8


@pytest.mark.parametrize("value", [0, 257, "4"])
def test_out_of_range_is_refused_before_anything_is_written(tmp_path, tiny_task, tiny_space, value):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ConfigError, match="--parallel-candidates"):
        _create(store, tiny_task, tiny_space, parallel_candidates=value)
    assert store.list_searches() == []


def test_a_pruner_is_refused_with_batches(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(ConfigError, match=r"--parallel-candidates: must be 1 with a pruner .*--pruner halving"):
        _create(store, tiny_task, tiny_space, parallel_candidates=2, pruner="halving")
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=2)
    with pytest.raises(ConfigError, match="--parallel-candidates: must be 1 with a pruner"):
        run_trials(store, rec, fake_lm, 2, pruner=optuna.pruners.MedianPruner())
    assert [t[1] for t in _trials(store, rec)] == ["WAITING"]  # refused before any trial was claimed: the
    # start trial (search/start.py) is still queued


def test_an_error_fails_the_whole_batch_and_keeps_earlier_trials(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=3, sampler="random")
    run_trials(store, rec, fake_lm, 3)

    class Boom(Exception):
        pass

    def boom(requests):
        raise Boom("model died")
    fake_lm.loglikelihood = boom
    with pytest.raises(Boom):
        run_trials(store, rec, fake_lm, 3)
    assert _scored_states(store, rec) == ["COMPLETE"] * 3 + ["FAIL"] * 3


def test_a_callback_error_mid_batch_fails_only_the_untold_trials(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=4, sampler="random")

    def stop(event):
        if event.completed == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run_trials(store, rec, fake_lm, 4, on_trial=stop)
    assert _scored_states(store, rec) == ["COMPLETE", "COMPLETE", "FAIL", "FAIL"]


def _child(url, lm_class, tells):
    """A child process: a k = 4 search that dies (os._exit, like SIGKILL: nothing cleaned up)
    after `tells` trials of its first batch were told."""
    store = Store(url)
    rec = store.get_search("s")
    real = Claims.finish
    told = []

    def finish(self, trial, *a, **kw):
        if len(told) == tells:
            os._exit(9)
        real(self, trial, *a, **kw)
        told.append(trial.number)
    Claims.finish = finish
    run_trials(store, rec, lm_class(), 8)


@pytest.mark.parametrize("tells", [0, 2])
def test_killed_mid_batch_then_resumed_loses_nothing(tmp_path, tiny_task, tiny_space, fake_lm, tells):
    url = f"sqlite:///{tmp_path}/s.db"
    store = Store(url)
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=4, sampler="random")
    proc = multiprocessing.get_context("fork").Process(target=_child, args=(url, type(fake_lm), tells))
    proc.start()
    proc.join(120)
    assert proc.exitcode == 9
    before = _trials(store, rec)
    assert [s for _, s, _, _ in before] == ["COMPLETE"] * tells + ["RUNNING"] * (4 - tells)
    assert store.evaluations.count() > 0  # the batch's evaluations were committed before any tell
    summary = run_trials(store, rec, fake_lm, 8 - tells)  # resume: the dead batch's trials are stale
    assert sorted(summary.failed_stale) == list(range(tells, 4))
    after = _trials(store, rec)
    assert after[:tells] == before[:tells]  # the told ones are untouched
    assert [s for _, s, _, _ in after[tells:4]] == ["FAIL"] * (4 - tells)
    retried = {t.system_attrs["retry_history"][-1]: t for t in store.load_study(rec).get_trials()
               if t.system_attrs.get("retry_history")}
    assert sorted(retried) == list(range(tells, 4))  # each failed point queued again, once, and run
    assert all(retried[n].params == after[n][2] and retried[n].state == TrialState.COMPLETE for n in retried)
    assert sum(s == "COMPLETE" for _, s, _, _ in after) == 8
    assert fake_lm.calls <= 2  # the retried points came from the cache


def test_usage_is_shared_by_computed_examples():
    class Remote:
        usage: ClassVar[dict] = {"calls": 0, "prompt_tokens": 0, "cost_usd": 0.0}
    lm = Remote()
    before = dict(lm.usage)
    lm.usage = {"calls": 3, "prompt_tokens": 100, "cost_usd": 0.3}
    parts = split_usage(lm, before, [2, 1, 0])
    assert sum(p["calls"] for p in parts) == 3 and sum(p["prompt_tokens"] for p in parts) == 100
    assert parts[2]["prompt_tokens"] == 0 and parts[0]["cost_usd"] == pytest.approx(0.2)
    assert split_usage(lm, None, [1, 1]) == [{}, {}]
    assert [p["calls"] for p in split_usage(lm, before, [0, 0, 0])] == [1, 1, 1]


def test_every_strategy_runs_in_batches_like_one_at_a_time(tmp_path, tiny_task, fake_lm):
    """Generating strategies (CoT, self-consistency, least-to-most, bootstrapped few-shot CoT)
    batched across candidates: the same trials as k = 1."""
    space = tmp_path / "r.yaml"
    space.write_text("name: r\ninstructions: ['Classify.', 'Decide.']\n"
                     "strategies: [direct, zero_shot_cot, few_shot_cot, self_consistency, least_to_most]\n"
                     "demos: {counts: [0, 2]}\nself_consistency: {samples: [2, 3], temperatures: [0.5]}\n"
                     "bootstrap: {tries: 4}\nreasoning: {max_tokens: 8}\n")
    out = []
    for k in (1, 4):
        store = Store(f"sqlite:///{tmp_path}/k{k}.db")
        rec = _create(store, tiny_task, space, sampler="random", seed=3, parallel_candidates=k)
        study = store.load_study(rec)
        for name in ("direct", "zero_shot_cot", "few_shot_cot", "self_consistency", "least_to_most"):
            study.enqueue_trial({"strategy": name})
        run_trials(store, rec, fake_lm, 9)
        out.append(_trials(store, rec))
    assert out[0] == out[1]
    assert {t[2]["strategy"] for t in out[1]} >= {"zero_shot_cot", "self_consistency", "least_to_most"}
    assert set(_scored_states(store, rec)) == {"COMPLETE"}


def test_proposal_rounds_run_between_batches(tmp_path, tiny_task, tiny_space, fake_lm):
    from promptsearch.config.propose import ProposeSpec
    from promptsearch.propose import ProposalHook
    from promptsearch.propose.pool import pool_index
    from promptsearch.propose.proposer import Completion, Proposer

    class Scripted(Proposer):
        name = "scripted"

        sent = 0

        def complete(self, prompts, n, *, temperature, max_tokens, seed):
            self.sent += 1
            return [Completion(p, [f" judge the review, take {self.sent} {i} {j}" for j in range(n)])
                    for i, p in enumerate(prompts)]

    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = _create(store, tiny_task, tiny_space, parallel_candidates=3)
    hook = ProposalHook(ProposeSpec(methods=("induction", "refinement"), every=3, rounds=2, n=1, draws=1), Scripted())
    assert run_trials(store, rec, fake_lm, 7, hooks=[hook]).completed == 7
    accepted = [r for r in store.proposals.all(rec.id) if r.accepted]
    assert {r.round for r in accepted} == {0, 1}  # induction before the first batch, refinement after it
    used = {pool_index(t.params) for t in store.load_study(rec).get_trials(deepcopy=False)}
    assert {r.pool_index for r in accepted if r.round == 0} <= used  # enqueued trials ran in batches


def test_the_python_api_takes_parallel_candidates(tmp_path, tiny_task, tiny_space, fake_model):
    import promptsearch as ps

    store = ps.Store(f"sqlite:///{tmp_path}/api.db")
    search = ps.create_search(store, "api", tiny_task, tiny_space, model="smollm2", parallel_candidates=4)
    assert ps.run_search(store, search, 6).completed == 6
    assert fake_model.calls == 2  # batches of 4 and 2
    assert store.get_search("api").settings["parallel_candidates"] == 4
