"""Claiming a search's trials: every trial this project runs starts here, on Optuna's public API.

A claim holds the search lock (storage/locks.py: a file lock for SQLite, a row lock on
PostgreSQL) while it
1. fails the trials whose runner is gone (below) and queues their points again;
2. counts the trials that hold a slot (finished, running, queued) and stops if the target is
   reached: `study.ask()` is only called when there is room, so N workers never overshoot;
3. asks Optuna for a trial (a queued one first) and records its owner (liveness.me()) in
   ps_trial_owners before the lock is released.
Because of 3, a RUNNING trial without an owner row seen under the lock was made by a process
that died mid-claim. A trial is stale when it has no owner row, when its owner ran on this
machine and that process (or thread) is gone, or, for another machine, when its heartbeat
(storage/owners.py) is older than the grace period. A stale trial is marked, failed with
`study.tell`, and its point queued again with Optuna's RetryHeartbeatStaleTrialCallback (at
most MAX_RETRY times, keeping its `retry_history`); the marks let a process killed between two
of those steps leave work that the next claim finishes, never repeats.

A worker whose own trial was failed that way (it was silent longer than the grace period) learns
it from Optuna's UpdateFinishedTrialError on its next write, and stops with TrialTakenOver.
"""
from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Sequence

import optuna
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from promptsearch.errors import UserError
from promptsearch.storage import liveness
from promptsearch.storage.owners import Owner
from promptsearch.storage.retry import retrying
from promptsearch.storage.store import SearchRecord, Store, slot_counts

log = logging.getLogger(__name__)
MAX_RETRY = 2  # a point whose trial died this many times is not queued again


class TrialTakenOver(UserError):
    """This worker's trial was failed as stale by another worker (it was silent too long)."""


class Claims:
    """The trials one process (or thread) starts on one search, through one Study object (whose
    trial cache makes counting cheap)."""

    def __init__(self, store: Store, record: SearchRecord, study: optuna.Study):
        self.store, self.record, self.study = store, record, study
        self.failed_stale: list[int] = []  # numbers of the trials this one failed as stale
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)

    def claim(self, target: int | None = None) -> optuna.Trial | None:
        """A new RUNNING trial owned by this thread; None when `target` trials are finished or
        running (no target: always one, e.g. `resume`, which runs its own number of trials)."""
        trials = self.claim_many(1, target)
        return trials[0] if trials else None

    def claim_many(self, k: int, target: int | None = None, held: Sequence[int] = ()) -> list[optuna.Trial]:
        """Up to `k` new RUNNING trials owned by this thread, asked one after another under one
        hold of the lock (--parallel-candidates); as many as the target leaves room for, [] when
        none (a queued trial is popped first). Each has its owner row before the lock is released;
        one whose row cannot be written is failed at once rather than left an orphan. `held`: the
        caller's own trials in flight (a round asking again, pipeline.py), which are not stale."""
        with self.store.search_lock(self.record):
            trials = self.study.get_trials(deepcopy=False)
            if self._fail_stale(trials, held):
                trials = self.study.get_trials(deepcopy=False)
            if target is not None:
                counts = slot_counts(trials)
                k = min(k, target - counts.finished - counts.running)
            asked: list[optuna.Trial] = []
            try:
                for _ in range(k):
                    asked.append(retrying(self.study.ask, self.store.shown_url)())
                    self.store.owners.record(self.record.id, asked[-1].number, liveness.me())
            except BaseException:
                for trial in asked:
                    self.abandon(trial)
                raise
        for trial in asked:
            self.store.owners.start_beating(self.record.id, trial.number)
        return asked

    def fail_stale(self) -> list[int]:
        """Fail stale trials now (under the lock); returns their numbers."""
        with self.store.search_lock(self.record):
            return self._fail_stale(self.study.get_trials(deepcopy=False))

    def finish(self, trial: optuna.Trial, value: float | Sequence[float] | None = None,
               state: TrialState = TrialState.COMPLETE) -> None:
        """Tell Optuna how this thread's trial ended (committed before this returns); `value` is
        one value per objective of a multi-objective study (search/objectives.py)."""
        try:
            told = retrying(self.study.tell, self.store.shown_url)(trial, value, state=state, skip_if_finished=True)
        except UpdateFinishedTrialError:  # failed by another worker between the check and the write
            told = None
        finally:
            self.store.owners.stop_beating(self.record.id, trial.number)
        if told is None or told.state != state:
            raise self.taken_over(trial)

    def abandon(self, trial: optuna.Trial) -> None:
        """Fail this thread's trial after an error or Ctrl-C; the error itself is what matters."""
        self.store.owners.stop_beating(self.record.id, trial.number)
        try:
            self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        except Exception as e:
            log.warning("could not mark trial %d failed: %s", trial.number, " ".join(str(e).split())[:200])

    def taken_over(self, trial: optuna.Trial) -> TrialTakenOver:
        self.store.owners.stop_beating(self.record.id, trial.number)
        return TrialTakenOver(
            f"trial {trial.number} was marked failed by another worker after this one was silent for over "
            f"{self.store.grace_period}s, and will be retried; if this worker was only slow, give every "
            "worker a larger --grace")

    # --- stale trials (the caller holds the search lock) ------------------------------------

    def _fail_stale(self, trials: list[FrozenTrial], held: Sequence[int] = ()) -> list[int]:
        running = [t.number for t in trials if t.state == TrialState.RUNNING and t.number not in held]
        owners = self.store.owners.look(self.record.id, running)  # and those failed but not requeued
        failed = [n for n in running if self._stale(owners.get(n)) and self._fail(n)]
        left = [o.number for o in owners.values() if o.failed_stale and not o.requeued]  # by a killed process
        for number in sorted({*failed, *left}):
            self._requeue(number)
        self.failed_stale += failed
        return failed

    def _stale(self, owner: Owner | None) -> bool:
        if owner is None:
            return True  # made by a process that died mid-claim
        gone = liveness.process_gone(owner.owner)
        if gone is None:  # another machine: its heartbeat decides
            gone = owner.silent_seconds > self.store.grace_period
        return gone

    def _fail(self, number: int) -> bool:
        self.store.owners.mark(self.record.id, number, failed_stale=True)  # first: see _requeue
        try:
            told = retrying(self.study.tell, self.store.shown_url)(number, state=TrialState.FAIL,
                                                                    skip_if_finished=True)
        except UpdateFinishedTrialError:
            return False  # finished meanwhile, by its owner
        if told.state != TrialState.FAIL:
            return False
        log.warning("trial %d was left running by a stopped process: marked failed, its point queued again",
                    number)
        return True

    def _requeue(self, number: int) -> None:
        """Queue a failed stale trial's point again, unless its copy already exists (a process
        killed after queueing it, before marking it) or it did not fail after all."""
        trials = self.study.get_trials(deepcopy=False)
        trial = trials[number] if number < len(trials) and trials[number].number == number else None
        if trial is not None and trial.state == TrialState.FAIL and not _has_copy(trials, number):
            self._retry(self.study, copy.deepcopy(trial))  # a WAITING copy with the same parameters
        self.store.owners.mark(self.record.id, number, requeued=True)


def _has_copy(trials: list[FrozenTrial], number: int) -> bool:
    for t in trials:
        history = t.system_attrs.get("retry_history")
        if isinstance(history, list) and history and history[-1] == number:
            return True
    return False
