"""The shared trial target, stale trials and concurrent writes, with the fake LM and threads as
workers (each with its own Store, as separate processes would have). Everything goes through
the claim (search/claims.py) and the owners table, on Optuna's public API."""
from __future__ import annotations

import os
import threading
import time

import pytest
from optuna.trial import TrialState
from workerdb import unique_name

from promptsearch.config import load_space, load_task
from promptsearch.errors import UserError
from promptsearch.evaluate import ExampleResult
from promptsearch.search import SearchSettings, new_search, run_trials
from promptsearch.search.claims import Claims
from promptsearch.search.results import trial_counts
from promptsearch.search.workers import join, run_worker
from promptsearch.storage import Store, liveness
from promptsearch.storage.liveness import HOST_ENV


def _search(db_url, tiny_task, tiny_space, target):
    store = Store(db_url)
    rec = new_search(store, unique_name("w"), load_task(tiny_task), load_space(tiny_space), "fake",
                        SearchSettings(sampler="random"))
    store.set_trial_target(rec, target)
    return store, rec


def _claims(store, rec) -> Claims:
    return Claims(store, rec, store.load_study(rec))


def _threads(n, fn):
    errors = []

    def run(i):
        try:
            fn(i)
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors


def test_four_workers_reach_the_target_exactly(db_url, tiny_task, tiny_space, fake_lm):
    store, rec = _search(db_url, tiny_task, tiny_space, 24)  # distinct candidates: the tiny space has 40
    done = [0] * 4

    def work(i):
        own = Store(db_url, create=False)
        done[i] = run_worker(own, own.get_search(rec.name), fake_lm, poll_seconds=0.05).finished
        own.close()
    _threads(4, work)
    counts = trial_counts(store, rec)
    assert counts["complete"] == 24 == sum(done)
    assert counts["fail"] == counts["running"] == counts["waiting"] == 0
    owners = store.owners.of_search(rec.id)  # every trial was claimed, and its owner recorded (repeats too)
    assert sorted(owners) == list(range(24 + counts["repeat"]))


def test_workers_with_batches_reach_the_target_exactly(db_url, tiny_task, tiny_space, fake_lm):
    """--parallel-candidates 4: each worker claims up to 4 trials at once, never past the target."""
    store = Store(db_url)
    rec = new_search(store, unique_name("w"), load_task(tiny_task), load_space(tiny_space), "fake",
                        SearchSettings(sampler="random", parallel_candidates=4))
    store.set_trial_target(rec, 13)
    done = [0] * 3

    def work(i):
        own = Store(db_url, create=False)
        done[i] = run_worker(own, own.get_search(rec.name), fake_lm, poll_seconds=0.05).finished
        own.close()
    _threads(3, work)
    counts = trial_counts(store, rec)
    assert counts["complete"] == 13 == sum(done)
    assert counts["fail"] == counts["running"] == counts["waiting"] == 0
    assert sorted(store.owners.of_search(rec.id)) == list(range(13 + counts["repeat"]))  # repeats were claimed too
    claims = _claims(store, rec)
    assert claims.claim_many(4, target=13) == []
    two = claims.claim_many(4, target=15)  # room for 2
    assert len(two) == 2
    for trial in two:
        claims.abandon(trial)


def test_trials_flag_adds_to_the_target(db_url, tiny_task, tiny_space, fake_lm):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    run_trials(store, rec, fake_lm, 5)  # `resume` ran past the target
    _threads(3, lambda i: join(Store(db_url, create=False), rec, 4))  # three workers join, --trials 4 each
    assert store.trial_target(rec) == 5 + 12
    run_worker(store, rec, fake_lm, poll_seconds=0.05)
    assert trial_counts(store, rec)["complete"] == 17


def test_a_claim_stops_at_the_target(db_url, tiny_task, tiny_space, monkeypatch):
    store, rec = _search(db_url, tiny_task, tiny_space, 2)
    parent, me = os.getppid(), liveness.me  # trials run by a live process (not this thread: see liveness)
    monkeypatch.setattr(liveness, "me", lambda: {**me(), "pid": parent, "start": liveness.start_time(parent)})
    claims = _claims(store, rec)
    first, second = claims.claim(2), claims.claim(2)
    assert first is not None and second is not None and claims.claim(2) is None  # 2 running
    claims.finish(first, 0.5)
    assert claims.claim(2) is None  # 1 finished + 1 running
    claims.study.enqueue_trial({"instruction": 0})
    assert claims.claim(3).number == 2  # a queued trial is taken before a new one
    assert claims.claim(3) is None


def test_a_dead_processs_trial_is_failed_and_its_point_retried(db_url, tiny_task, tiny_space, fake_lm,
                                                               monkeypatch):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    me, dead = liveness.me, _dead_pid()
    monkeypatch.setattr(liveness, "me", lambda: {**me(), "pid": dead})  # claimed by a process now gone
    trial = _claims(store, rec).claim()
    monkeypatch.setattr(liveness, "me", me)
    trial.suggest_categorical("instruction", [0, 1])
    claims = _claims(store, rec)
    assert claims.fail_stale() == [trial.number]
    assert claims.fail_stale() == []  # once only
    waiting = claims.study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 1 and waiting[0].params == {"instruction": trial.params["instruction"]}
    assert waiting[0].system_attrs["retry_history"] == [trial.number]
    run_worker(store, rec, fake_lm, poll_seconds=0.05)
    counts = trial_counts(store, rec)
    assert counts["complete"] == 3 and counts["fail"] == 1 and counts["waiting"] == 0


def test_a_trial_left_without_its_owner_is_failed_at_once(db_url, tiny_task, tiny_space):
    """A process killed between Optuna's ask and recording the owner (both under the lock)."""
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    orphan = store.load_study(rec).ask()
    assert _claims(store, rec).fail_stale() == [orphan.number]


def test_each_step_of_a_retry_happens_once_across_kills(db_url, tiny_task, tiny_space, monkeypatch):
    store, rec = _search(db_url, tiny_task, tiny_space, 5)
    parent, me = os.getppid(), liveness.me  # claimed by a live process, which a worker then failed
    monkeypatch.setattr(liveness, "me", lambda: {**me(), "pid": parent, "start": liveness.start_time(parent)})
    a, b = _claims(store, rec).claim(), _claims(store, rec).claim()
    monkeypatch.setattr(liveness, "me", me)
    study = store.load_study(rec)
    # killed after marking and failing `a`, before queueing its point
    store.owners.mark(rec.id, a.number, failed_stale=True)
    study.tell(a.number, state=TrialState.FAIL)
    # killed after queueing `b`'s point, before marking it queued
    store.owners.mark(rec.id, b.number, failed_stale=True)
    study.tell(b.number, state=TrialState.FAIL)
    Claims(store, rec, study)._retry(study, study.get_trials()[b.number])
    claims = _claims(store, rec)
    assert claims.fail_stale() == []  # nothing runs any more; the next look finishes the work
    copies = [t.system_attrs["retry_history"] for t in claims.study.get_trials(states=(TrialState.WAITING,))]
    assert sorted(copies) == [[a.number], [b.number]]
    claims.fail_stale()
    assert len(claims.study.get_trials(states=(TrialState.WAITING,))) == 2


def test_a_live_workers_trial_is_never_failed(db_url, tiny_task, tiny_space):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    other = Store(db_url, create=False)
    trial = _claims(other, rec).claim()  # running in "another worker" (this thread, alive)
    seen = []
    t = threading.Thread(target=lambda: seen.append(_claims(store, rec).fail_stale()))
    t.start()
    t.join()
    assert seen == [[]]
    assert other.load_study(rec).trials[trial.number].state == TrialState.RUNNING


def test_another_machines_trial_is_failed_after_its_heartbeat_stops(db_url, tiny_task, tiny_space,
                                                                     monkeypatch):
    _store, rec = _search(db_url, tiny_task, tiny_space, 3)
    silent = Store(db_url, create=False, heartbeat_interval=3600)  # machine b's first beat is its last
    monkeypatch.setenv(HOST_ENV, "machine-b")
    trial = _claims(silent, rec).claim()
    monkeypatch.setenv(HOST_ENV, "machine-a")
    checker = Store(db_url, create=False, grace_period=1)
    assert _claims(checker, rec).fail_stale() == []  # still within the grace period
    time.sleep(2.2)
    assert _claims(checker, rec).fail_stale() == [trial.number]


def test_heartbeats_are_recorded_for_running_trials(db_url, tiny_task, tiny_space):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)
    beating = Store(db_url, create=False, heartbeat_interval=1)
    claims = _claims(beating, rec)
    trial = claims.claim()
    owner = store.owners.look(rec.id, [trial.number])[trial.number]
    assert owner.owner["pid"] == os.getpid() and owner.owner["machine"] == liveness.machine_id()
    time.sleep(3.2)
    assert store.owners.look(rec.id, [trial.number])[trial.number].silent_seconds < 2  # beaten meanwhile
    claims.finish(trial, 0.5)
    time.sleep(3.2)
    assert store.owners.look(rec.id, [trial.number])[trial.number].silent_seconds >= 2  # and no more
    beating.close()


def test_a_worker_whose_trial_was_taken_over_stops_with_one_line(db_url, tiny_task, tiny_space, fake_lm,
                                                                  monkeypatch):
    store, rec = _search(db_url, tiny_task, tiny_space, 3)

    class SilentThenBack(type(fake_lm)):
        """Its first scoring call stands for a pause longer than the grace period, during which
        another worker (on another machine) fails the trial."""
        name = unique_name("slow-lm")  # nothing cached under its name, even on a shared server
        failed = None

        def loglikelihood(self, requests):
            if self.failed is None:
                time.sleep(2.2)
                monkeypatch.setenv(HOST_ENV, "machine-a")
                self.failed = _claims(Store(db_url, create=False, grace_period=1), rec).fail_stale()
                monkeypatch.setenv(HOST_ENV, "machine-b")
            return super().loglikelihood(requests)

    monkeypatch.setenv(HOST_ENV, "machine-b")
    slow = Store(db_url, create=False, heartbeat_interval=3600, grace_period=1)
    lm = SilentThenBack()
    with pytest.raises(UserError) as e:
        run_worker(slow, rec, lm, poll_seconds=0.05)
    assert lm.failed == [0]
    assert "trial 0 was marked failed by another worker" in str(e.value) and "--grace" in str(e.value)
    assert "\n" not in str(e.value)
    counts = trial_counts(store, rec)
    assert counts["fail"] == 1 and counts["waiting"] == 1 and counts["running"] == 0  # retried by the next


def test_concurrent_identical_evaluations_are_stored_once(db_url):
    store = Store(db_url)
    model = unique_name("model")
    rows = [ExampleResult(f"e{i}", "positive", 1.0) for i in range(50)]
    barrier = threading.Barrier(4)

    def put(i):
        own = Store(db_url, create=False)
        barrier.wait()
        own.evaluations.put(model, "hash", "rank", rows)
    _threads(4, put)
    assert len(store.evaluations.get(model, "hash", "rank", [r.example_id for r in rows])) == 50
    from sqlalchemy import func, select

    from promptsearch.storage.models import EvaluationRow
    assert store.db.read(lambda s: s.scalar(select(func.count()).where(EvaluationRow.model == model))) == 50


def _dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid
