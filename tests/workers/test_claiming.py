"""The shared trial target, stale trials and concurrent writes, with the fake LM and threads as
workers (each with its own Store, as separate processes would have)."""
from __future__ import annotations

import os
import threading
import time

from optuna.trial import TrialState
from workerdb import unique_name

from promptsearch.config import load_space, load_task
from promptsearch.errors import UserError
from promptsearch.evaluate import ExampleResult
from promptsearch.search import SearchSettings, create_search, run_search
from promptsearch.search.results import trial_counts
from promptsearch.search.workers import join, run_worker
from promptsearch.storage import Store
from promptsearch.storage.liveness import OWNER_ATTR, HOST_ENV
from promptsearch.storage.trials import fail_stale


def _search(db_url, tiny_task, tiny_space, target):
    store = Store(db_url)
    rec = create_search(store, unique_name("w"), load_task(tiny_task), load_space(tiny_space), "fake",
                        SearchSettings(sampler="random"))
    store.set_trial_target(rec, target)
    return store, rec


def _threads(n, fn):
    errors = []

    def run(i):
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors


def test_four_workers_reach_the_target_exactly(db_url, tiny_task, tiny_space, fake_lm):
    store, rec = _search(db_url, tiny_task, tiny_space, 40)
    done = [0] * 4

    def work(i):
        own = Store(db_url, create=False)
        done[i] = run_worker(own, own.get_search(rec.name), fake_lm, poll_seconds=0.05).finished
        own.close()
    _threads(4, work)
    counts = trial_counts(store, rec)
    assert counts["complete"] == 40 == sum(done)
    assert counts["fail"] == counts["running"] == counts["waiting"] == 0


def test_trials_flag_adds_to_the_target(db_url, tiny_task, tiny_space, fake_lm):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    run_search(store, rec, fake_lm, 5)  # `resume` ran past the target
    _threads(3, lambda i: join(Store(db_url, create=False), rec, 4))  # three workers join, --trials 4 each
    assert store.trial_target(rec) == 5 + 12
    run_worker(store, rec, fake_lm, poll_seconds=0.05)
    assert trial_counts(store, rec)["complete"] == 17


def test_a_dead_processs_trial_is_failed_and_its_point_retried(db_url, tiny_task, tiny_space, fake_lm):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    study = store.load_study(rec)
    trial = study.ask()
    trial.suggest_categorical("instruction", [0, 1])
    owner = study._storage.get_trial(trial._trial_id).system_attrs[OWNER_ATTR]
    dead = dict(owner, pid=_dead_pid())
    store.optuna.set_trial_system_attr(trial._trial_id, OWNER_ATTR, dead)  # as if its process was killed
    store.optuna._beats.discard(trial._trial_id)
    assert fail_stale(study) == [trial.number]
    assert fail_stale(study) == []  # once only
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {"instruction": trial.params["instruction"]}
    run_worker(store, rec, fake_lm, poll_seconds=0.05)
    counts = trial_counts(store, rec)
    assert counts["complete"] == 3 and counts["fail"] == 1 and counts["waiting"] == 0


def test_a_live_workers_trial_is_never_failed(db_url, tiny_task, tiny_space):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    other = Store(db_url, create=False)
    trial = other.load_study(rec).ask()  # running in "another worker" (a thread of this process)
    seen = []
    t = threading.Thread(target=lambda: seen.append(fail_stale(store.load_study(rec))))
    t.start()
    t.join()
    assert seen == [[]]
    assert other.load_study(rec).trials[trial.number].state == TrialState.RUNNING


def test_another_machines_trial_is_failed_after_its_heartbeat_stops(db_url, tiny_task, tiny_space, monkeypatch):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    monkeypatch.setenv(HOST_ENV, "machine-b")
    trial = store.load_study(rec).ask()
    store.optuna._beats.discard(trial._trial_id)  # machine b goes silent
    monkeypatch.setenv(HOST_ENV, "machine-a")
    checker = Store(db_url, create=False, grace_period=1)
    assert fail_stale(checker.load_study(rec)) == []  # still within the grace period
    time.sleep(2.2)
    assert fail_stale(checker.load_study(rec)) == [trial.number]


def test_concurrent_identical_evaluations_are_stored_once(db_url):
    store = Store(db_url)
    model = unique_name("model")
    rows = [ExampleResult(f"e{i}", "positive", 1.0) for i in range(50)]
    barrier = threading.Barrier(4)

    def put(i):
        own = Store(db_url, create=False)
        barrier.wait()
        own.put(model, "hash", "rank", rows)
    _threads(4, put)
    assert len(store.get(model, "hash", "rank", [r.example_id for r in rows])) == 50
    with store.session() as s:
        from sqlalchemy import func, select
        from promptsearch.storage.models import EvaluationRow
        assert s.scalar(select(func.count()).where(EvaluationRow.model == model)) == 50


def test_heartbeats_are_recorded_for_running_trials(db_url, tiny_task, tiny_space):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    trial = store.load_study(rec).ask()
    assert trial._trial_id in store.optuna._trials_with_heartbeat([trial._trial_id])


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_a_worker_whose_trial_was_taken_over_stops_with_one_line(db_url, tiny_task, tiny_space, monkeypatch):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    monkeypatch.setenv(HOST_ENV, "machine-b")
    trial = store.load_study(rec).ask()
    store.optuna._beats.ids.discard(trial._trial_id)  # its heartbeat thread stalls...
    monkeypatch.setenv(HOST_ENV, "machine-a")
    time.sleep(2.2)
    assert fail_stale(Store(db_url, create=False, grace_period=1).load_study(rec)) == [trial.number]
    store.optuna._beats.ids.add(trial._trial_id)  # ...and resumes: the trial is no longer its own
    try:
        trial.set_user_attr("prompt_hash", "x")
    except UserError as e:
        assert "marked failed by another worker" in str(e) and "\n" not in str(e)
    else:
        raise AssertionError("the write to a failed trial went through")
