"""The strategy registry: unknown names list the registered ones, and a strategy defined in this
file (one class, one registration) runs through a whole search: sampled, rendered, stored,
scored, cached, rebuilt from the database and shown."""
from dataclasses import dataclass
from typing import ClassVar

import pytest
from optuna.trial import TrialState

from promptsearch.cli.display import leaderboard_table
from promptsearch.config import load_space, load_task
from promptsearch.errors import ConfigError
from promptsearch.lm.base import LoglikelihoodRequest
from promptsearch.render import Layout
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.rebuild import rebuild_prompt
from promptsearch.search.results import leaderboard
from promptsearch.storage import Store
from promptsearch.strategies import STRATEGIES, Choice, Strategy, Trace, describe, param, register_strategy


@pytest.fixture
def shout():
    """`shout`: asks for the answer in capitals after a number of exclamation marks (its own
    Optuna parameter) and picks the label the model likes best, its own way."""

    @register_strategy("shout")
    @dataclass(frozen=True)
    class Shout(Strategy):
        marks: int = param("shout_marks", 1)
        runs: ClassVar[list] = []  # every batch it ran, for the test to look at

        def key(self) -> str:
            return f"shout:m{self.marks}"

        @classmethod
        def settings(cls, space, task):
            return [Choice("shout_marks", (1, 2, 3), name="marks")]

        @classmethod
        def describe(cls, params):
            return f"shout {'!' * params.get('shout_marks', 1)}"

        def layout(self, candidate, task):
            return Layout(answer_line="ANSWER" + "!" * self.marks, demo_answer=lambda d: d[task.output].upper())

        def run(self, lm, task, items, options):
            Shout.runs.append(len(items))
            out = lm.loglikelihood([LoglikelihoodRequest(t.fill(e), " " + label)
                                    for t, e in items for label in task.labels])
            n = len(task.labels)
            return [Trace(max(zip(task.labels, out[i * n:(i + 1) * n]), key=lambda p: p[1].logprob)[0])
                    for i in range(len(items))]

    yield Shout
    STRATEGIES.remove("shout")


def test_unknown_strategy_is_one_line_listing_the_registered_ones(shout):
    with pytest.raises(ConfigError) as e:
        STRATEGIES.get("tree", "parameter 'strategy'")
    assert str(e.value).startswith("parameter 'strategy': 'tree' is not a known strategy; allowed: direct, "
                                   "zero_shot_cot, few_shot_cot, self_consistency, least_to_most, ")
    assert str(e.value).endswith(", shout") and "\n" not in str(e.value)


def test_a_strategy_registered_here_runs_through_a_search(shout, tiny_task, tmp_path, fake_lm):
    space = tmp_path / "space.yaml"
    space.write_text("name: s\ninstructions: ['Classify.']\nstrategies: [direct, shout]\n"
                     "demos: {counts: [0]}\ntemplates: [plain]\nstart: none\n")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    rec = new_search(store, "s", load_task(tiny_task), load_space(space), "fake", SearchSettings(sampler="random"))
    study = store.load_study(rec)
    for marks in (1, 3):
        study.enqueue_trial({"strategy": "shout", "marks": marks})
    study.enqueue_trial({"strategy": "shout", "marks": 1})  # the same candidate again: not scored twice
    run_trials(store, rec, fake_lm, 4)

    trials = store.load_study(rec).get_trials(states=(TrialState.COMPLETE,))
    assert [t.user_attrs["strategy"] for t in trials[:2]] == ["shout"] * 2
    assert [t.params["marks"] for t in trials[:2]] == [1, 3]  # sampled by Optuna under its own name
    repeat = store.load_study(rec).trials[2]
    assert repeat.state == TrialState.FAIL and repeat.user_attrs["repeat_of"] == 0  # recorded, not re-scored
    assert shout.runs[:2] == [6, 6]  # dev has 6 examples
    rows = {e.candidate.params.get("shout_marks"): e.candidate for e in leaderboard(store, rec, None)}
    assert rows[3].prompt == "Classify.\n\nReview: {review}\nANSWER!!!"
    assert rows[3].params["strategy"] == "shout" and rows[1].prompt_hash != rows[3].prompt_hash
    rebuilt = rebuild_prompt(rec, rows[3], lm=fake_lm, store=store)
    assert rebuilt.hash == rows[3].prompt_hash and rebuilt.strategy == shout(marks=3)
    assert describe(rows[3].params) == "shout !!!"
    assert leaderboard_table(leaderboard(store, rec, None)).row_count == len(rows)
