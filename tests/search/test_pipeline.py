"""One trial pipeline (search/pipeline.py) and one loop (search/loop.py): the bundled seeded search
gives the same trials one at a time and in batches, and every trial stores the same attributes;
a candidate already scored is never scored again, and an exhausted space stops the search."""
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from promptsearch.cli.main import main
from promptsearch.config import load_space, load_task
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.budget import spent
from promptsearch.search.pipeline import MAX_REPEATS
from promptsearch.search.results import trial_counts
from promptsearch.storage import Store

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
TWO = "name: two\ninstructions: ['Classify the {inputs}.', 'Is the {inputs} {labels}?']\n" \
      "templates: [plain]\ncot_triggers: [null]\n"  # no demos: two candidates in all
# what every scored trial stores, however it ran (one at a time or in a batch)
ATTRS = {"prompt_hash", "instruction", "n_demos", "strategy", "prompt", "lm_calls", "lm_prompt_tokens",
         "wall_seconds", "dev_examples"}



def _trials(store, name):
    study = store.load_study(store.get_search(name))
    return study.get_trials(deepcopy=False)


def test_the_bundled_seeded_search_is_the_same_one_at_a_time_and_in_batches(tmp_path, capsys, real_model):
    """examples/review_sentiment.yaml on search_spaces/default.yaml, seed 0: the same points,
    prompts and scores at k = 1 and k = 4; each trial stores the same attributes, and the trials'
    wall_seconds add up to no more than the run took (a batch shares its time, never repeats it)."""
    runs = {}
    for k in (1, 4):
        db = f"sqlite:///{tmp_path}/k{k}.db"
        start = time.perf_counter()
        assert main(["optimize", str(TASK), "--space", str(ROOT / "search_spaces" / "default.yaml"), "--trials", "6",
                     "--dev-limit", "8", "--seed", "0", "--name", "s", "--parallel-candidates", str(k),
                     "--db", db]) == 0
        took = time.perf_counter() - start
        capsys.readouterr()
        trials = _trials(Store(db, create=False), "s")
        assert all(set(t.user_attrs) >= ATTRS for t in trials)
        assert spent(trials).seconds <= took
        runs[k] = [(t.number, t.state, t.params, t.value, t.user_attrs["prompt_hash"],
                    t.user_attrs["lm_calls"]) for t in trials]
    assert runs[1] == runs[4] and len(runs[1]) == 6


@pytest.mark.parametrize("k", [1, 3])
def test_an_exhausted_space_stops_and_says_so(tmp_path, tiny_task, fake_lm, k):
    space = tmp_path / "two.yaml"
    space.write_text(TWO)
    store = Store(f"sqlite:///{tmp_path}/s.db")
    record = new_search(store, "s", load_task(tiny_task), load_space(space), "fake",
                           SearchSettings(parallel_candidates=k, sampler="random"))
    summary = run_trials(store, record, fake_lm, 5)
    assert summary.completed == 2 and summary.stopped.startswith("search space exhausted: ")
    assert "2 distinct candidates scored" in summary.stopped
    trials = store.load_study(record).get_trials()
    scored = [t for t in trials if t.state == TrialState.COMPLETE]
    repeats = [t for t in trials if "repeat_of" in t.user_attrs]
    assert len({t.user_attrs["prompt_hash"] for t in scored}) == 2
    assert len(repeats) == MAX_REPEATS and all(t.state == TrialState.FAIL for t in repeats)
    first = {t.user_attrs["prompt_hash"]: t.number for t in scored}
    assert all(first[t.user_attrs["prompt_hash"]] == t.user_attrs["repeat_of"] for t in repeats)
    assert all("lm_calls" not in t.user_attrs for t in repeats) and fake_lm.requests == 2 * 6 * 2
    counts = trial_counts(store, record)
    assert counts["complete"] == 2 and counts["repeat"] == MAX_REPEATS and counts["fail"] == 0
    # resumable: a resume knows the streak, asks one round more (k trials) and stops, scoring nothing
    again = run_trials(store, record, fake_lm, 3)
    assert again.completed == 0 and again.stopped.startswith("search space exhausted")
    assert trial_counts(store, record)["repeat"] == MAX_REPEATS + k
    assert not store.load_study(record).get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


def test_trials_n_is_n_distinct_candidates(tmp_path, tiny_task, tiny_space, fake_lm):
    """TPE on a small space offers scored points again; none is scored twice."""
    store = Store(f"sqlite:///{tmp_path}/s.db")
    record = new_search(store, "s", load_task(tiny_task), load_space(tiny_space), "fake", SearchSettings())
    summary = run_trials(store, record, fake_lm, 12)
    scored = store.load_study(record).get_trials(states=(TrialState.COMPLETE,))
    assert summary.completed == 12 == len({t.user_attrs["prompt_hash"] for t in scored})


def test_the_cli_says_the_space_is_exhausted(tmp_path, capsys, real_model):
    (tmp_path / "two.yaml").write_text(TWO)
    db = ["--db", f"sqlite:///{tmp_path}/e.db"]
    assert main(["optimize", str(TASK), "--space", str(tmp_path / "two.yaml"), "--trials", "4", "--name", "e",
                 "--dev-limit", "4", *db]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "search space exhausted: " in out and "(2 distinct candidates scored)" in out
    assert main(["show", "e", *db]) == 0
    assert f"complete 2, repeat {MAX_REPEATS}" in " ".join(capsys.readouterr().out.split())
