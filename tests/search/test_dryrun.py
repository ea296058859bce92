"""`optimize --dry-run` / `ps.plan` (search/dryrun.py): the planned trials, calls and tokens, from
the space, the dev size, the strategies, the pruner and proposal rounds; nothing written. Checked
against what a real search on the real model then spends."""
from pathlib import Path

import pytest

import promptsearch as ps
from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings
from promptsearch.search.budget import spent
from promptsearch.search.dryrun import CountingLM, plan_search

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
GEN_TASK = ROOT / "examples" / "city_extraction.yaml"
SPACE = """name: small
instructions: ["Classify the {inputs}. Answer with one of: {labels}.", "Is the {inputs} {labels}?"]
demos: {counts: [0, 1], selection: [random]}
cot_triggers: [null]
templates: [plain]
"""



def test_dry_run_writes_nothing_and_prints_the_plan(tmp_path, capsys, real_model):
    db = tmp_path / "never.db"
    assert main(["optimize", str(TASK), "--trials", "20", "--dev-limit", "10", "--dry-run",
                 "--budget", "calls=100", "--db", f"sqlite:///{db}"]) == 0
    out = capsys.readouterr().out
    assert not db.exists() and not list(tmp_path.iterdir())  # not even the database file
    assert "Dry run: review-sentiment (20 trials on 10 dev examples" in out and "nothing was written" in out
    # default space: every candidate is direct label ranking, 10 examples x 2 labels
    assert "per trial (mean)" in out and "400" in out  # 20 trials x 20 calls
    assert "calls=100 allows about 5 trials" in out


def test_plan_matches_what_the_real_search_spends(tmp_path, real_model):
    (tmp_path / "space.yaml").write_text(SPACE)
    db = f"sqlite:///{tmp_path}/p.db"
    plan = ps.plan(TASK, tmp_path / "space.yaml", trials=3, db=db, dev_limit=5, lm=real_model)
    assert not (tmp_path / "p.db").exists()
    assert plan.per_trial.calls == 10 and plan.trial_cost.calls == 30 and plan.total.calls == 30
    assert plan.to_dict()["total"]["calls"] == 30
    assert ps.optimize(TASK, tmp_path / "space.yaml", trials=3, db=db, dev_limit=5, lm=real_model,
                       dry_run=True).per_trial.calls == 10
    store, record = ps.optimize(TASK, tmp_path / "space.yaml", trials=3, db=db, dev_limit=5, lm=real_model)
    trials = store.load_study(record).trials
    fresh = [t for t in trials if t.user_attrs["lm_calls"]]  # a repeated candidate is cached: 0 calls
    assert fresh and all(t.user_attrs["lm_calls"] == 10 for t in fresh)
    # tokens: the plan counts each call's prompt as the engine does, from a sample of points
    used = spent(fresh)
    real_per_trial = used.tokens / used.trials
    assert 0.5 * real_per_trial < plan.per_trial.tokens < 2.0 * real_per_trial


def test_plan_counts_strategies_pruner_and_proposals(smollm):
    """Self-consistency samples k paths per example, CoT generates then answers, a pruner gives a
    lower bound, proposal rounds are counted on the proposer."""
    task = load_task(TASK)
    space = load_space(ROOT / "search_spaces" / "reasoning.yaml")
    plan = plan_search("r", task, space, SearchSettings(dev_limit=4, pruner="halving", chunk_size=2), smollm, 10,
                       "smollm2")
    assert set(plan.by_strategy) <= set(space.strategies) and len(plan.by_strategy) > 1
    direct = plan.by_strategy.get("direct")
    if direct is not None:
        assert direct.calls == 4 * 2 and direct.completion_tokens == 0
    for name in ("zero_shot_cot", "self_consistency", "few_shot_cot"):
        if name in plan.by_strategy:
            assert plan.by_strategy[name].completion_tokens > 0 and plan.by_strategy[name].calls > 8
    assert plan.min_trial is not None and plan.min_trial.calls == pytest.approx(plan.per_trial.calls / 2)
    assert any("pruner halving" in n for n in plan.notes)

    proposing = load_space(ROOT / "search_spaces" / "propose.yaml")
    plan = plan_search("p", task, proposing, SearchSettings(dev_limit=4), smollm, 12, "smollm2")
    assert plan.proposal_rounds >= 1 and plan.proposals.calls > 0 and plan.proposals.completion_tokens > 0
    assert plan.total.calls == pytest.approx(plan.trial_cost.calls + plan.proposals.calls + plan.bootstrap.calls)


def test_plan_counts_the_screen_and_stays_above_what_proposal_rounds_spend(tmp_path, real_model):
    """A screened space: every proposal's log-likelihood on the screen's train examples is counted
    (proposals x examples), and the planned proposal cost is not below what the real search's
    first round (before trial 0, charged to it) then spends beyond that trial's own calls."""
    (tmp_path / "space.yaml").write_text(SPACE + "propose:\n  methods: [induction]\n  n: 4\n  draws: 2\n"
                                         "  every: 50\n  screen: {examples: 3, keep: 2}\n")
    unscreened = tmp_path / "plain.yaml"
    unscreened.write_text(SPACE + "propose:\n  methods: [induction]\n  n: 4\n  draws: 2\n  every: 50\n")
    plan = ps.plan(TASK, tmp_path / "space.yaml", trials=1, dev_limit=5, lm=real_model)
    without = ps.plan(TASK, unscreened, trials=1, dev_limit=5, lm=real_model)
    assert without.proposals.calls == 8  # 2 draws x 4 sampled completions
    assert plan.proposals.calls == 8 + 8 * 3  # and 8 proposals x 3 screen examples
    store, record = ps.optimize(TASK, tmp_path / "space.yaml", trials=1, db=f"sqlite:///{tmp_path}/s.db",
                                dev_limit=5, lm=real_model)
    (trial,) = [t for t in store.load_study(record).trials if t.state.is_finished()]  # the rest: enqueued proposals
    assert 0 < trial.user_attrs["lm_calls"] - plan.per_trial.calls <= plan.proposals.calls


@pytest.mark.parametrize("method, calls", [("reflection", 2 * 4 + 4), ("resampling", 2 * 4 + 2)])
def test_plan_counts_each_later_method_as_it_asks(tmp_path, smollm, method, calls):
    """Round 0: induction, 2 draws x 4 completions. Round 1: reflection asks 4 completions of one
    prompt that shows failed examples; resampling one paraphrase of each of the 2 instructions."""
    (tmp_path / "space.yaml").write_text(SPACE + f"propose:\n  methods: [induction, {method}]\n  n: 4\n"
                                         "  draws: 2\n  every: 2\n  rounds: 2\n")
    plan = plan_search("p", load_task(TASK), load_space(tmp_path / "space.yaml"), SearchSettings(dev_limit=4),
                       smollm, 3, "smollm2")
    assert plan.proposal_rounds == 2 and plan.proposals.calls == calls
    if method == "reflection":  # 5 failed examples shown: a long prompt per completion
        assert plan.proposals.prompt_tokens > 4 * 100 + 8 * 50


def test_counting_lm_counts_sequences(smollm):
    from promptsearch.lm.base import GenerateRequest, LoglikelihoodRequest

    counter = CountingLM(smollm)
    counter.loglikelihood([LoglikelihoodRequest("a b", " c")] * 3)
    counter.generate([GenerateRequest(context="x", max_new_tokens=7, num_return_sequences=5)])
    calls, prompt, completion = counter.totals()
    assert calls == 8 and completion == 35 and prompt > 0


def test_dry_run_generation_task_counts_generated_tokens(tmp_path, capsys, real_model):
    assert main(["optimize", str(GEN_TASK), "--space", str(ROOT / "search_spaces" / "extraction.yaml"),
                 "--trials", "5", "--dev-limit", "3", "--max-new-tokens", "8", "--dry-run",
                 "--db", f"sqlite:///{tmp_path}/g.db"]) == 0
    out = capsys.readouterr().out
    assert "Dry run" in out and not (tmp_path / "g.db").exists()


def test_plan_counts_the_selection_rescoring_and_the_search_spends_it(tmp_path, real_model):
    """With a selection split the trials cost the searched part of dev, and the top-k re-scoring
    on the held-out part is planned; the real search then spends exactly that on it."""
    (tmp_path / "space.yaml").write_text(SPACE)
    db = f"sqlite:///{tmp_path}/s.db"
    options = dict(trials=3, db=db, dev_limit=8, select_fraction=0.5, select_top=2, lm=real_model)
    plan = ps.plan(TASK, tmp_path / "space.yaml", **options)
    assert plan.dev_examples == 4 and plan.per_trial.calls == 8  # 4 searched examples x 2 labels
    assert plan.selection.calls == 16 and plan.total.calls == 3 * 8 + 16  # 2 candidates x 4 held out x 2
    store, record = ps.optimize(TASK, tmp_path / "space.yaml", **options)
    sel = ps.selection(store, record.name)
    assert sel["usage"]["lm_calls"] == 8 * len(sel["scores"]) and len(sel["scores"]) <= 2
