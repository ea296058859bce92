"""The selection split's logic (search/selection.py, search/pick.py) with a scripted fake LM: the
split, its checks, and a pick that follows the held-out score where the dev-best loses there.
The real model and real SQLite: tests/cli/test_selection_real.py."""
import optuna
import pytest
from psfakes import FakeLM

from promptsearch.config import load_space, load_task
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.budget import Budget, affordable, spent, store_budget, with_selection
from promptsearch.search.results import best, leaderboard
from promptsearch.search.selection import split_dev
from promptsearch.search.workers import run_worker
from promptsearch.storage import Store


class SplitLM(FakeLM):
    """Alpha is right on every searched dev example and wrong on every held-out one; Beta is wrong
    on one searched dev example and right on the held-out ones."""

    def __init__(self, held: list[str], miss: str):
        super().__init__()
        self.held, self.miss = held, miss
        self.seen: list[str] = []  # reviews scored, in order

    def loglikelihood(self, requests):
        out = super().loglikelihood(requests)
        for i, r in enumerate(requests):
            last = r.context.rstrip().split("\n\n")[-1]
            review = next((h for h in [*self.held, self.miss] if h in last), None)
            self.seen.append(last)
            flip = ("Alpha" in r.context and review in self.held) or ("Beta" in r.context and review == self.miss)
            if flip:
                out[i] = type(out[i])(logprob=-6.0 - out[i].logprob, num_tokens=1, is_greedy=not out[i].is_greedy)
        return out


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path}/s.db")


@pytest.fixture
def two(tmp_path):
    space = tmp_path / "two.yaml"
    space.write_text("name: two\ninstructions: ['Alpha says: {labels}.', 'Beta says: {labels}.']\n")
    return space


def test_split_is_seeded_disjoint_and_keeps_dev_order(tiny_task):
    dev = load_split(load_task(tiny_task), "dev")
    searched, held = split_dev(dev, 0.5, seed=3)
    assert len(held) == 3 and len(searched) == 3
    assert {e.id for e in searched} | {e.id for e in held} == {e.id for e in dev}
    assert [e.id for e in searched] == [e.id for e in dev if e in searched]
    assert split_dev(dev, 0.5, seed=3) == (searched, held)
    assert split_dev(dev, None, seed=3) == (dev, [])
    assert len({tuple(e.id for e in split_dev(dev, 0.5, seed=s)[1]) for s in range(10)}) > 1  # seeded draws


@pytest.mark.parametrize("settings, message", [
    ({"select_fraction": 0.0}, "--select-fraction must be a number greater than 0 and less than 1"),
    ({"select_fraction": 1.0}, "--select-fraction must be a number greater than 0 and less than 1"),
    ({"select_fraction": "half"}, "--select-fraction must be a number greater than 0 and less than 1"),
    ({"select_fraction": 0.05}, "leaves no example held out"),
    ({"select_fraction": 0.95}, "leaves no dev example left to search on"),
    ({"select_fraction": 0.5, "dev_limit": 1}, "leaves no"),
    ({"select_fraction": 0.5, "select_top": 0}, "--select-top must be at least 1, got 0"),
])
def test_bad_selection_is_one_line_and_writes_nothing(store, tiny_task, two, settings, message):
    with pytest.raises(ConfigError, match=message) as e:
        new_search(store, "s", load_task(tiny_task), load_space(two), "fake", SearchSettings(**settings))
    assert "\n" not in str(e.value)
    assert store.find_search("s") is None


def test_pick_follows_the_selection_score_not_dev(store, tiny_task, two):
    task = load_task(tiny_task)
    searched, held = split_dev(load_split(task, "dev"), 0.5, seed=0)
    lm = SplitLM([e.fields["review"] for e in held], searched[0].fields["review"])
    rec = new_search(store, "s", task, load_space(two), "fake", SearchSettings(select_fraction=0.5))
    run_trials(store, rec, lm, 2)
    top = leaderboard(store, rec, 2)
    alpha = next(e for e in top if "Alpha" in e.candidate.instruction)
    beta = next(e for e in top if "Beta" in e.candidate.instruction)
    assert top[0] == alpha and alpha.score == 1.0 and beta.score == pytest.approx(2 / 3)  # dev: 3 examples
    sel = store.load_study(rec).user_attrs["selection"]
    assert sel["examples"] == 3 and sel["dev_examples"] == 3 and sel["example_ids"] == [e.id for e in held]
    scores = {s["trial"]: s["selection"] for s in sel["scores"]}
    assert scores == {alpha.trial: 0.0, beta.trial: 1.0}
    assert sel["pick"] == beta.trial and best(store, rec).trial == beta.trial
    # the trials scored the searched dev only; the held-out reviews came only at the end (2 x 3 x 2 labels)
    trial_part, end_part = lm.seen[:2 * 3 * 2], lm.seen[2 * 3 * 2:]
    assert not any(h in s for s in trial_part for h in lm.held)
    assert len(end_part) == 2 * 3 * 2 and all(any(h in s for h in lm.held) for s in end_part)
    # what the re-scoring spent is stored with the split, and the budget adds it to the trials'
    study = store.load_study(rec)
    study.set_user_attr("selection", {**sel, "usage": {"lm_calls": 7, "lm_prompt_tokens": 40, "wall_seconds": 1.5}})
    trials_only, total = spent(study.get_trials(deepcopy=False)), with_selection(spent(study.trials), study)
    assert (total.calls, total.tokens) == (trials_only.calls + 7, trials_only.tokens + 40)
    assert total.seconds == pytest.approx(trials_only.seconds + 1.5)
    assert total.mean("calls") == trials_only.mean("calls")


def test_resume_keeps_the_split_and_rescores_from_the_cache(store, tiny_task, tiny_space, fake_lm):
    rec = new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "fake",
                        SearchSettings(select_fraction=0.5, select_top=2))
    run_trials(store, rec, fake_lm, 2)
    first = store.load_study(rec).user_attrs["selection"]
    run_trials(store, rec, fake_lm, 2)
    again = store.load_study(rec).user_attrs["selection"]
    assert again["example_ids"] == first["example_ids"] and len(again["scores"]) == 2
    assert again["usage"]["wall_seconds"] >= first["usage"]["wall_seconds"]  # added up over runs
    assert all(len(t.user_attrs["dev_scores"]) == 3 for t in store.load_study(rec).trials if t.values)


def test_budget_limits_the_rescoring():
    study = optuna.create_study()
    for _ in range(2):  # two trials that spent 10 calls each on their dev examples
        study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"lm_calls": 10}))
    assert affordable(study, 5, 0.5) == 5  # no budget
    store_budget(study, Budget(calls=25))
    assert affordable(study, 5, 0.5) == 1  # 5 left, a re-score on half as many examples costs 5
    store_budget(study, Budget(calls=20))
    assert affordable(study, 5, 0.5) == 0


def test_a_worker_holds_out_the_same_split_and_picks_at_its_end(store, tiny_task, tiny_space, fake_lm):
    rec = new_search(store, "w", load_task(tiny_task), load_space(tiny_space), "fake",
                        SearchSettings(select_fraction=0.5, select_top=3))
    store.set_trial_target(rec, 3)
    run_worker(store, rec, fake_lm, poll_seconds=0.05)
    study = store.load_study(rec)
    sel = study.user_attrs["selection"]
    held = split_dev(load_split(load_task(tiny_task), "dev"), 0.5, seed=0)[1]
    assert sel["example_ids"] == [e.id for e in held] and 1 <= len(sel["scores"]) <= 3
    assert all(len(t.user_attrs["dev_scores"]) == 3 for t in study.trials if t.values)
    assert best(store, rec).trial == sel["pick"]


class FlipLM(FakeLM):
    """Wrong, for each instruction word, on the reviews listed for it; right elsewhere."""

    def __init__(self, wrong: dict[str, list[str]]):
        super().__init__()
        self.wrong = wrong

    def loglikelihood(self, requests):
        out = super().loglikelihood(requests)
        for i, r in enumerate(requests):
            last = r.context.rstrip().split("\n\n")[-1]
            if any(word in r.context and any(rev in last for rev in reviews) for word, reviews in self.wrong.items()):
                out[i] = type(out[i])(logprob=-6.0 - out[i].logprob, num_tokens=1, is_greedy=not out[i].is_greedy)
        return out


def test_pick_is_made_on_dev_and_the_held_out_examples_pooled(store, tiny_task, two):
    """Alpha: 4 of 4 searched dev examples, 1 of 2 held out (pooled 5/6); Beta: 2 of 4 and 2 of 2
    (pooled 4/6). The held-out score alone would pick Beta; the pool picks Alpha."""
    task = load_task(tiny_task)
    searched, held = split_dev(load_split(task, "dev"), 1 / 3, seed=0)
    assert (len(searched), len(held)) == (4, 2)
    lm = FlipLM({"Alpha": [held[0].fields["review"]], "Beta": [e.fields["review"] for e in searched[:2]]})
    rec = new_search(store, "p", task, load_space(two), "fake", SearchSettings(select_fraction=1 / 3))
    run_trials(store, rec, lm, 2)
    top = {("Alpha" in e.candidate.instruction): e.trial for e in leaderboard(store, rec, 2)}
    sel = store.load_study(rec).user_attrs["selection"]
    scores = {s["trial"]: (s["dev"], s["selection"], s["pooled"]) for s in sel["scores"]}
    assert scores[top[True]] == (1.0, 0.5, pytest.approx(5 / 6))
    assert scores[top[False]] == (0.5, 1.0, pytest.approx(4 / 6))
    assert sel["pick"] == top[True] == best(store, rec).trial
