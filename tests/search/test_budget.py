"""Budgets (`optimize --budget`, search/budget.py): parsing, the usage each trial stores, the
stop rule, and end to end on the real model: stop before crossing, stored, shown, raised by
`resume --budget`, counted from the database after a resume."""
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError
from promptsearch.lm.usage import UsageCounter
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.budget import Budget, parse_budget, spent, stop_reason, store_budget, stored_budget
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
SPACE = """name: small
instructions: ["Classify the {inputs}. Answer with one of: {labels}.", "Is the {inputs} {labels}?", ""]
demos: {counts: [0, 1], selection: [random]}
cot_triggers: [null]
templates: [plain]
"""


# ---------------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("value, expected", [
    ("calls=5000", Budget(calls=5000)),
    ("tokens=2e6", Budget(tokens=2_000_000)),
    (["seconds=600", "dollars=2.5"], Budget(seconds=600.0, dollars=2.5)),
    ("calls=10, tokens=1000", Budget(calls=10, tokens=1000)),
    ({"calls": 7}, Budget(calls=7)),
    (None, None),
])
def test_parse_budget(value, expected):
    assert parse_budget(value) == expected


@pytest.mark.parametrize("value, message", [
    ("calls", "is not KIND=NUMBER"),
    ("money=3", "'money' is not a budget kind; allowed: calls, tokens, seconds, dollars"),
    ("calls=lots", "--budget calls: 'lots' is not a number"),
    ("calls=0", "--budget calls must be at least 1"),
    ("calls=2.5", "--budget calls must be an integer"),
    ("tokens=1e30", "--budget tokens must be at most"),
    ("seconds=nan", "--budget seconds must be a number"),
    ("dollars=inf", "--budget dollars must be a number"),
    (["calls=5", "calls=6"], "calls is given twice"),
    ("calls=5,", "is not KIND=NUMBER"),
    ({}, "empty"),
])
def test_parse_budget_errors_are_one_line(value, message):
    with pytest.raises(ConfigError, match=message) as e:
        parse_budget(value)
    assert "\n" not in str(e.value)


def test_merged_raises_only_the_kinds_given():
    assert Budget(calls=10, seconds=60.0).merged(Budget(calls=50)) == Budget(calls=50, seconds=60.0)


# ---------------------------------------------------------------------- the stop rule (fake LM)

class CountingFake:
    """The scripted fake LM with usage counters (as every real backend has)."""

    def __init__(self, fake):
        self.fake, self.name, self._usage = fake, "fake-lm", UsageCounter()

    def __getattr__(self, name):
        return getattr(self.fake, name)

    @property
    def usage(self):
        return self._usage.snapshot()

    def loglikelihood(self, requests):
        self._usage.add(calls=len(requests), prompt_tokens=10 * len(requests))
        return self.fake.loglikelihood(requests)

    def generate(self, requests):
        self._usage.add(calls=len(requests), prompt_tokens=10 * len(requests), completion_tokens=len(requests))
        return self.fake.generate(requests)


def test_stops_before_the_next_trial_would_cross(tmp_path, tiny_task, tiny_space, fake_lm):
    # tiny: 6 dev examples x 2 labels = 12 calls per trial (0 when every example is cached)
    store = Store(f"sqlite:///{tmp_path}/b.db")
    record = new_search(store, "b", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    store_budget(store.load_study(record), Budget(calls=30))
    summary = run_trials(store, record, CountingFake(fake_lm), 10)
    study = store.load_study(record)
    used = spent(study.get_trials())
    assert used.calls <= 30 and summary.completed < 10
    assert all("lm_calls" in t.user_attrs and "wall_seconds" in t.user_attrs for t in study.trials)
    assert summary.stopped.startswith("budget reached: ") and "resume b --trials N --budget calls=" in summary.stopped
    assert used.calls + used.mean("calls") > 30  # it stopped because the next trial would cross


def test_no_budget_changes_nothing(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/b.db")
    record = new_search(store, "b", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    summary = run_trials(store, record, CountingFake(fake_lm), 3)
    assert summary.completed == 3 and summary.stopped is None
    assert stop_reason(store.load_study(record), "b") is None


def test_already_crossed_stops_at_once(tmp_path, tiny_task, tiny_space, fake_lm):
    store = Store(f"sqlite:///{tmp_path}/b.db")
    record = new_search(store, "b", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    run_trials(store, record, CountingFake(fake_lm), 2)
    store_budget(store.load_study(record), Budget(calls=1))
    summary = run_trials(store, record, CountingFake(fake_lm), 5)
    assert summary.completed == 0 and "spent of 1" in summary.stopped


def _trial(state, calls, seconds=1.0):
    return optuna.trial.create_trial(state=state, value=0.5 if state == TrialState.COMPLETE else None,
                                     user_attrs={"lm_calls": calls, "wall_seconds": seconds})


def test_a_trial_stopped_early_does_not_lower_the_next_trials_estimate():
    """A pruned or raced-out trial scored part of dev; the next candidate may run all of it, so
    the estimate is the complete trials' mean (64 here), not everyone's (28), which would let a
    trial start that crosses the budget (112 + 64 > 150)."""
    study = optuna.create_study()
    for state, calls in [(TrialState.COMPLETE, 64)] + [(TrialState.PRUNED, 16)] * 3:
        study.add_trial(_trial(state, calls))
    used = spent(study.trials)
    assert used.calls == 112 and used.mean("calls") == 64 and used.mean("seconds") == 1.0
    store_budget(study, Budget(calls=150))
    why = stop_reason(study, "s")
    assert why is not None and "the next trial would need about 64 calls (the mean of 1 complete trial " in why
    store_budget(study, Budget(calls=176))
    assert stop_reason(study, "s") is None


def test_before_a_complete_trial_every_trial_that_called_counts():
    study = optuna.create_study()
    for calls in (10, 20, 0):  # the last was served from the cache
        study.add_trial(_trial(TrialState.PRUNED, calls))
    used = spent(study.trials)
    assert used.mean("calls") == 15 and used.describe("calls") == "the mean of 2 trials that called the model"


# ---------------------------------------------------------------------------- the real model


def test_budget_end_to_end_on_the_real_model(tmp_path, capsys, real_model):
    """4 dev examples x 2 labels = 8 calls per trial (unless cached): calls=20 allows 2 trials;
    the search stops cleanly, says why, stores the budget; resume --budget raises it."""
    (tmp_path / "space.yaml").write_text(SPACE)
    db = ["--db", f"sqlite:///{tmp_path}/b.db"]
    assert main(["optimize", str(TASK), "--space", str(tmp_path / "space.yaml"), "--trials", "10", "--name", "bud",
                 "--dev-limit", "4", "--budget", "calls=20", *db]) == 0
    out = capsys.readouterr().out
    assert "budget reached:" in out and "of 20" in out
    store = Store(db[1], create=False)
    record = store.get_search("bud")
    study = store.load_study(record)
    assert stored_budget(study) == Budget(calls=20)
    used = spent(study.trials)
    first = used.trials
    assert 1 <= first < 10 and used.calls <= 20
    for t in study.trials:  # every trial stores what the real engine counted: 2 labels per dev example
        assert t.user_attrs["lm_calls"] in (0, 2, 4, 6, 8) and t.user_attrs["lm_prompt_tokens"] > 0

    assert main(["show", "bud", *db]) == 0
    out = capsys.readouterr().out
    assert "calls=20" in out and f"{used.calls:,.0f} calls" in out

    # without a higher budget, resume stops at once and says so
    assert main(["resume", "bud", "--trials", "5", *db]) == 0
    assert "budget reached:" in capsys.readouterr().out
    assert len(store.load_study(record).trials) == first

    # raised: more trials run, and what was spent before the resume still counts
    assert main(["resume", "bud", "--trials", "2", "--budget", "calls=1000", *db]) == 0
    out = capsys.readouterr().out
    assert "budget reached" not in out
    study = store.load_study(record)
    assert stored_budget(study) == Budget(calls=1000) and spent(study.trials).trials == first + 2


def test_budget_errors_write_nothing(tmp_path, capsys):
    db = tmp_path / "none.db"
    for budget, message in (("calls=abc", "--budget calls: 'abc' is not a number"),
                            ("dollars=2", "--budget dollars: model 'smollm2' is local and has no price")):
        assert main(["optimize", str(TASK), "--budget", budget, "--db", f"sqlite:///{db}"]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
        assert not db.exists()


def test_api_budget_is_stored_and_raised(tmp_path, tiny_task, tiny_space, fake_lm):
    import promptsearch as ps

    lm = CountingFake(fake_lm)
    db = f"sqlite:///{tmp_path}/api.db"
    store, record = ps.optimize(tiny_task, tiny_space, trials=10, db=db, lm=lm, budget="calls=30")
    assert stored_budget(store.load_study(record)) == Budget(calls=30)
    before = len(store.load_study(record).trials)
    assert before < 10
    summary = ps.resume(store, record, 2, lm=lm, budget={"calls": 1000, "seconds": 3600})
    assert summary.stopped is None and summary.completed == 2
    assert stored_budget(store.load_study(record)) == Budget(calls=1000, seconds=3600.0)


def test_a_worker_obeys_the_stored_budget(tmp_path, tiny_task, tiny_space, fake_lm):
    from promptsearch.search.workers import run_worker

    store = Store(f"sqlite:///{tmp_path}/w.db")
    record = new_search(store, "w", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    store.set_trial_target(record, 10)
    store_budget(store.load_study(record), Budget(calls=30))
    summary = run_worker(store, record, CountingFake(fake_lm), poll_seconds=0.01)
    assert summary.finished < 10 and summary.stopped.startswith("budget reached: ")
    assert spent(store.load_study(record).trials).calls <= 30


def test_a_model_without_counters_refuses_a_calls_budget(tmp_path, tiny_task, tiny_space, fake_lm):
    import promptsearch as ps

    with pytest.raises(ConfigError, match="keeps no usage counters"):
        ps.optimize(tiny_task, tiny_space, trials=2, db=f"sqlite:///{tmp_path}/n.db", lm=fake_lm, budget="calls=5")
    assert not (tmp_path / "n.db").exists()
    store, record = ps.optimize(tiny_task, tiny_space, trials=1, db=f"sqlite:///{tmp_path}/s.db", lm=fake_lm,
                                budget="seconds=3600")  # time is measured for every model
    assert stored_budget(store.load_study(record)) == Budget(seconds=3600.0)


# ------------------------------------------------- every model the search calls is counted

def _total_calls(store, record) -> int:
    return int(spent(store.load_study(record).get_trials()).calls)


def test_the_meter_counts_watched_models_from_when_they_are_watched(fake_lm):
    from promptsearch.search.budget import UsageMeter

    task_model, other = CountingFake(fake_lm), CountingFake(fake_lm)
    other._usage.add(calls=3)  # before the run: not this run's calls
    meter = UsageMeter(task_model)
    meter.watch(other)
    meter.watch(other)
    meter.watch(task_model)  # the searched model itself is counted once
    other._usage.add(calls=2)
    task_model._usage.add(calls=5)
    assert meter.source.usage["calls"] - meter.marked["calls"] == 7


@pytest.mark.parametrize("parallel", [1, 2])
def test_a_separate_proposers_calls_count(tmp_path, tiny_task, tiny_space, fake_lm, monkeypatch, parallel):
    """`--proposer MODEL`: the proposal rounds' calls are made on another model, and still count."""
    from promptsearch.propose import proposer as proposers

    writer = CountingFake(fake_lm)
    writer.generate = lambda requests: (writer._usage.add(calls=sum(r.num_return_sequences for r in requests)),
                                        [type("R", (), {"texts": [" judge it"] * r.num_return_sequences})()
                                         for r in requests])[1]
    monkeypatch.setattr("promptsearch.propose.make_proposer",
                        lambda spec, lm, api_base=None: proposers.LocalProposer(writer))
    tiny_space.write_text(tiny_space.read_text() + "propose:\n  methods: [resampling]\n  every: 2\n  rounds: 2\n"
                                                   "  n: 2\n")
    store = Store(f"sqlite:///{tmp_path}/b.db")
    record = new_search(store, "b", load_task(tiny_task), load_space(tiny_space), "fake",
                           SearchSettings(parallel_candidates=parallel))
    searched = CountingFake(fake_lm)
    run_trials(store, record, searched, 6)
    assert writer.usage["calls"] > 0
    assert _total_calls(store, record) == searched.usage["calls"] + writer.usage["calls"]


def test_a_judge_models_calls_count(tmp_path, tiny_task, tiny_space, fake_lm, monkeypatch):
    judge = CountingFake(fake_lm)
    monkeypatch.setattr("promptsearch.evaluate.judge.judge_model", lambda task, lm=None: judge)
    tiny_task.write_text(tiny_task.read_text().replace(
        "metric: accuracy\nlabels: [negative, positive]\n",
        "metric:\n  judge:\n    rubric: Says the sentiment.\n    model: some/judge\n"))
    store = Store(f"sqlite:///{tmp_path}/b.db")
    record = new_search(store, "b", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    searched = CountingFake(fake_lm)
    run_trials(store, record, searched, 3)
    assert judge.usage["calls"] > 0 and searched.usage["calls"] > 0
    assert _total_calls(store, record) == searched.usage["calls"] + judge.usage["calls"]


# ------------------------------------------- budgets that hold: the first trial, a cache, a judge

def _max_trial_calls(study):
    return max((t.user_attrs.get("lm_calls", 0) for t in study.trials), default=0)


def test_a_fresh_search_estimates_its_first_trial_from_the_plan(tmp_path, capsys, real_model):
    """A trial costs 8 calls (4 dev examples x 2 labels): calls=5 starts none, and says why with
    the numbers; it is the dry-run plan's figure, as no trial has called the model yet."""
    (tmp_path / "space.yaml").write_text(SPACE)
    db = ["--db", f"sqlite:///{tmp_path}/f.db"]
    assert main(["optimize", str(TASK), "--space", str(tmp_path / "space.yaml"), "--trials", "8", "--name", "f",
                 "--dev-limit", "4", "--budget", "calls=5", *db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "budget reached: 0 calls spent of 5, and the next trial would need about 8 " in out
    assert "(the dry-run plan's estimate per trial), more than the 5 left" in out
    store = Store(db[1], create=False)
    study = store.load_study(store.get_search("f"))
    assert spent(study.trials).calls == 0 and not [t for t in study.trials if t.state.is_finished()]


@pytest.mark.parametrize("limit", [12, 20])
def test_a_cached_history_does_not_make_trials_look_free(tmp_path, real_model, limit):
    """A second search with the same seed meets its first candidates in the cache (0 calls): the
    next trial's cost is the mean of the trials that called the model (or the plan's), never a
    mean lowered by the cached ones, so the budget is never crossed."""
    import promptsearch as ps

    (tmp_path / "space.yaml").write_text(SPACE)
    db = f"sqlite:///{tmp_path}/c.db"
    ps.optimize(TASK, tmp_path / "space.yaml", trials=3, name="first", db=db, lm=real_model, dev_limit=4,
                sampler="random")
    store, record = ps.optimize(TASK, tmp_path / "space.yaml", trials=8, name="second", db=db, lm=real_model,
                                dev_limit=4, sampler="random", budget=f"calls={limit}")
    study = store.load_study(record)
    calls = [t.user_attrs["lm_calls"] for t in study.trials if "lm_calls" in t.user_attrs]
    assert calls[:3] == [0, 0, 0]  # the first search's candidates, from the cache
    assert spent(study.trials).calls <= limit and any(c > 0 for c in calls)


def test_a_judges_calls_are_planned_and_budgeted(tmp_path, capsys, real_model, monkeypatch):
    """examples/explain_judge.yaml: each dev example is a generated answer and a judge question
    (2 log-likelihoods, Yes and No). The plan counts the judge, the first trial is estimated
    with it, and the search never crosses the budget."""
    monkeypatch.setattr("promptsearch.evaluate.judge.judge_model", lambda task, lm=None: real_model)
    space = tmp_path / "space.yaml"
    space.write_text("name: j\ninstructions: ['Explain in one sentence.', 'Answer briefly.', 'Why? One line.']\n"
                     "templates: [plain]\ncot_triggers: [null]\n")
    task = ROOT / "examples" / "explain_judge.yaml"
    common = [str(task), "--space", str(space), "--dev-limit", "2", "--max-new-tokens", "8"]
    assert main(["optimize", *common, "--trials", "3", "--dry-run", "--db", f"sqlite:///{tmp_path}/p.db"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "per trial includes the judge's 4 calls" in out and "estimates, not bounds" in out
    db = ["--db", f"sqlite:///{tmp_path}/j.db"]
    assert main(["optimize", *common, "--trials", "3", "--name", "small", "--budget", "calls=5", *db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the next trial would need about 6 calls (the dry-run plan's estimate per trial)" in out
    assert main(["optimize", *common, "--trials", "3", "--name", "j", "--budget", "calls=14", *db]) == 0
    assert "budget reached: 12 calls spent of 14" in " ".join(capsys.readouterr().out.split())
    store = Store(db[1], create=False)
    study = store.load_study(store.get_search("j"))
    assert spent(study.trials).calls == 12 and _max_trial_calls(study) == 6  # 2 answers + 2 x 2 judge calls
