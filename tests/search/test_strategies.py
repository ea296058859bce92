"""Strategies in the search loop, bootstrapped demos with provenance and resume, nearest-neighbour
demos: the logic, with the scripted fake LM (the real model: test_strategies_real.py)."""
import numpy as np
import pytest
from optuna.trial import TrialState
from psdata import sentiment_rows, write_jsonl

from promptsearch.config import load_space, load_task
from promptsearch.render import RATIONALE
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search import bootstrap as boot
from promptsearch.search.rebuild import rebuild_prompt
from promptsearch.search.results import leaderboard
from promptsearch.storage import Store
from promptsearch.storage.models import BootstrapDemoRow
from promptsearch.strategies.reasoning import VERSION

ALL = "[direct, zero_shot_cot, few_shot_cot, self_consistency, least_to_most]"


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/s.db")


def _space(tmp_path, body):
    p = tmp_path / "space.yaml"
    p.write_text("name: r\ninstructions: ['Classify.', 'Decide.']\n" + body)
    return p


def _create(store, task, space, name="s", **settings):
    return new_search(store, name, load_task(task), load_space(space), "fake", SearchSettings(**settings))


def _study_trials(store, rec):
    return store.load_study(rec).get_trials(states=(TrialState.COMPLETE,))


class ToyEmbedder:
    """One-hot of the label word in the text: neighbours share the input's label."""

    name = "toy"

    def __call__(self, texts):
        return np.array([[1.0, 0.0] if "positive" in t else [0.0, 1.0] for t in texts], dtype=np.float32)


def test_every_strategy_runs_in_the_loop_and_is_stored(store, tiny_task, tmp_path, fake_lm):
    space = _space(tmp_path, f"strategies: {ALL}\ndemos: {{counts: [0, 2]}}\n"
                             "self_consistency: {samples: [2, 3], temperatures: [0.5]}\n"
                             "bootstrap: {tries: 4}\nreasoning: {max_tokens: 8}\n")
    rec = _create(store, tiny_task, space, sampler="random", seed=3)
    study = store.load_study(rec)
    for name in ("direct", "zero_shot_cot", "few_shot_cot", "self_consistency", "least_to_most"):
        study.enqueue_trial({"strategy": name})  # each one at least once; the rest is sampled
    run_trials(store, rec, fake_lm, 8)
    trials = _study_trials(store, rec)
    seen = {t.user_attrs["strategy"] for t in trials}
    assert seen == {"direct", "zero_shot_cot", "few_shot_cot", "self_consistency", "least_to_most"}
    for entry in leaderboard(store, rec, None):
        p = entry.candidate.params
        assert p["strategy"] in seen and entry.candidate.params["instruction"] in (0, 1)
        if p["strategy"] == "self_consistency":
            assert p["sc_samples"] in (2, 3) and p["sc_temperature"] == 0.5
        if p["strategy"] == "few_shot_cot":
            assert p["n_demos"] == 2 and p["rationales"] == "bootstrap"
            assert all(RATIONALE in d for d in entry.candidate.demos)
        if p["strategy"] in ("zero_shot_cot", "least_to_most"):
            assert p["n_demos"] == 0


def test_direct_only_space_samples_what_it_did_before(store, tiny_task, tiny_space, fake_lm):
    rec = _create(store, tiny_task, tiny_space, seed=1)
    run_trials(store, rec, fake_lm, 5)
    for t in _study_trials(store, rec):
        assert set(t.params) <= {"instruction", "n_demos", "demo_selection", "demo_draw", "cot_trigger", "template"}


def test_bootstrapped_demos_are_stored_with_provenance_and_reused_on_resume(store, tiny_task, tmp_path,
                                                                           fake_lm, monkeypatch):
    space = _space(tmp_path, "strategies: [few_shot_cot]\ndemos: {counts: [2], draws: 3}\n"
                             "bootstrap: {tries: 6}\nreasoning: {max_tokens: 8}\n")
    rec = _create(store, tiny_task, space)
    runs = []
    real = boot.Evaluator.traces
    monkeypatch.setattr(boot.Evaluator, "traces", lambda self, *a: runs.append(1) or real(self, *a))
    run_trials(store, rec, fake_lm, 2)
    assert len(runs) == 1 and store.demos.count() == 6
    rows = store.db.read(lambda s: s.query(BootstrapDemoRow).all())
    assert {r.search_id for r in rows} == {rec.id} and {r.model for r in rows} == {"fake-lm"}
    assert all(r.strategy.startswith(f"{VERSION}:zero_shot_cot") and len(r.prompt_hash) == 32 for r in rows)
    assert "Answer: Let's think step by step." in rows[0].prompt
    correct = [r for r in rows if r.correct]
    assert correct and len(correct) < 6  # the fake LM gets some right, not all
    demos = leaderboard(store, rec, 1)[0].candidate.demos
    assert {d[RATIONALE] for d in demos} <= {r.rationale for r in correct}

    run_trials(store, rec, fake_lm, 2)  # resume: a new process would read the rows back
    assert len(runs) == 1 and store.demos.count() == 6  # no model calls, no new rows
    other = _create(store, tiny_task, space, name="other")  # same model, task and settings
    run_trials(store, other, fake_lm, 1)
    assert len(runs) == 1 and store.demos.count() == 6


def test_rationale_field_in_the_data_is_used_without_bootstrapping(store, tiny_task, tmp_path, fake_lm):
    rows = [dict(r, why=f"because of word {i}") for i, r in enumerate(sentiment_rows(12))]
    write_jsonl(tiny_task.parent / "train.jsonl", rows)
    tiny_task.write_text(tiny_task.read_text() + "rationale: why\n")
    space = _space(tmp_path, "strategies: [few_shot_cot]\ndemos: {counts: [2]}\nreasoning: {max_tokens: 8}\n")
    rec = _create(store, tiny_task, space)
    run_trials(store, rec, fake_lm, 1)
    entry = leaderboard(store, rec, 1)[0]
    assert entry.candidate.params["rationales"] == "data" and store.demos.count() == 0
    assert all(d[RATIONALE].startswith("because of word") for d in entry.candidate.demos)
    assert "Answer: because of word" in entry.candidate.prompt  # no trigger in this space


def test_nearest_demos_in_the_loop_and_rebuilt_from_storage(store, tiny_task, tmp_path, fake_lm, monkeypatch):
    monkeypatch.setattr(boot, "load_embedder", lambda kind, lm: ToyEmbedder())
    space = _space(tmp_path, "demos: {counts: [2], selection: [nearest], order: [similar_last]}\n")
    rec = _create(store, tiny_task, space)
    run_trials(store, rec, fake_lm, 1)
    entry = leaderboard(store, rec, 1)[0]
    assert entry.candidate.params["demo_selection"] == "nearest" and entry.candidate.demos == []
    assert entry.candidate.prompt.startswith("[demonstrations: the 2 of 12 pool examples nearest")
    prompt = rebuild_prompt(rec, entry.candidate, lm=fake_lm, store=store)
    assert prompt.hash == entry.candidate.prompt_hash
    task = load_task(tiny_task)
    from promptsearch.data import load_split
    dev = load_split(task, "dev")
    for ex, template in zip(dev, prompt.per_example(dev)):
        blocks = template.fill(ex).split("\n\n")[1:-1]  # the demos: after the instruction, before the query
        assert len(blocks) == 2 and all(f"Label: {ex['label']}" in b for b in blocks)


def test_reasoning_candidate_rebuilt_from_storage(store, tiny_task, tmp_path, fake_lm):
    space = _space(tmp_path, "strategies: [self_consistency]\ndemos: {counts: [2]}\nbootstrap: {tries: 4}\n"
                             "reasoning: {max_tokens: 8}\nself_consistency: {samples: [2]}\n")
    rec = _create(store, tiny_task, space)
    run_trials(store, rec, fake_lm, 1)
    row = leaderboard(store, rec, 1)[0].candidate
    prompt = rebuild_prompt(rec, row, lm=fake_lm, store=store)
    assert prompt.hash == row.prompt_hash and prompt.strategy.samples == 2
