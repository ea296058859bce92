"""Optuna's RDB storage, plus what several processes on one search need.

- Every trial this process runs records its owner (machine, pid) in the same transaction that
  makes it RUNNING, and a heartbeat (Optuna's `record_heartbeat`) every `heartbeat_interval`
  seconds from one background thread while it runs.
- `fail_stale` fails RUNNING trials whose owner is certainly gone (same machine: the pid is gone)
  or silent (another machine: no heartbeat for `grace_period` seconds) and queues their points
  again with Optuna's RetryHeartbeatStaleTrialCallback. A live worker's trial is never touched.
- With a `slot` gate set (workers), a new trial is only created while the search's target is not
  reached, counting running and queued trials too; so N workers never overshoot the target.
- Writes are retried while the database is busy ("database is locked").

Optuna's `fail_stale_trials` is not used as is: it cannot see that a process on this machine is
gone (it waits out the grace period) and it ignores a trial killed before its first heartbeat.
"""
from __future__ import annotations

import copy
import logging
import threading
import warnings
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import Callable, ContextManager, Iterator

import optuna
import sqlalchemy as sa
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from promptsearch.errors import UserError
from promptsearch.storage import liveness
from promptsearch.storage.retry import retrying

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL = 10  # seconds between heartbeats of a running trial
GRACE_PERIOD = 60  # silence after which another machine's trial counts as dead
MAX_RETRY = 2  # a point whose trial died this many times is not queued again
STALE_ATTR = "promptsearch:failed_stale"  # set on a trial just before it is failed as stale


class NoTrialSlot(Exception):
    """The search's target is reached (counting running and queued trials): create no trial."""


class TrialTakenOver(UpdateFinishedTrialError, UserError):
    """A write to a trial that another worker failed as stale (this one was silent too long)."""


class TrialStorage(RDBStorage):
    def __init__(self, url: str, engine_kwargs: dict, shown_url: str, *,
                 heartbeat_interval: int = HEARTBEAT_INTERVAL, grace_period: int = GRACE_PERIOD):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            super().__init__(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval,
                             grace_period=grace_period,
                             heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY))
        self.shown_url = shown_url
        # set while a worker runs: slot(popping) is entered around making a trial RUNNING, and
        # raises NoTrialSlot when the search's target leaves no room for it
        self.slot: Callable[[bool], ContextManager[None]] | None = None
        # set by Store: the search lock for a study id (failing stale trials takes it)
        self.stale_lock: Callable[[int], ContextManager[None]] = lambda study_id: nullcontext()
        self._beats = _Heartbeats(self)

    # --- trials this process starts ------------------------------------------------------

    def _create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> FrozenTrial:
        # Optuna's cached storage (what Study uses) calls this private method, not create_new_trial.
        if template_trial is not None:  # a copy (add_trial, a retried point): nobody runs it yet
            return retrying(super()._create_new_trial, self.shown_url)(study_id, template_trial)
        template = FrozenTrial(number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.now(),
                               datetime_complete=None, params={}, distributions={}, user_attrs={},
                               system_attrs={liveness.OWNER_ATTR: liveness.me()}, intermediate_values={},
                               trial_id=-1)
        with self.slot(False) if self.slot is not None else nullcontext():
            frozen = retrying(super()._create_new_trial, self.shown_url)(study_id, template)
        self._beats.add(frozen._trial_id)
        return frozen

    def set_trial_state_values(self, trial_id: int, state: TrialState, values=None) -> bool:
        if state == TrialState.RUNNING:  # Study.ask popping a queued trial
            with self.slot(True) if self.slot is not None else nullcontext():
                if not retrying(self._claim_waiting, self.shown_url)(trial_id):
                    return False
            self._beats.add(trial_id)
            return True
        try:
            return retrying(super().set_trial_state_values, self.shown_url)(trial_id, state, values)
        finally:
            if state.is_finished():
                self._beats.discard(trial_id)

    def _claim_waiting(self, trial_id: int) -> bool:
        """WAITING -> RUNNING and the owner, in one transaction and only if still WAITING: a
        worker killed in between must not leave a running trial without an owner, and two
        workers must not both win (Optuna's read-then-write can, on SQLite)."""
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self.scoped_session) as session:
            done = session.execute(
                sa.update(models.TrialModel)
                .where(models.TrialModel.trial_id == trial_id, models.TrialModel.state == TrialState.WAITING)
                .values(state=TrialState.RUNNING, datetime_start=datetime.now())
                .execution_options(synchronize_session=False))
            if done.rowcount != 1:
                state = session.scalar(sa.select(models.TrialModel.state)
                                       .where(models.TrialModel.trial_id == trial_id))
                if state is None or state.is_finished():
                    raise UpdateFinishedTrialError(f"trial {trial_id} is already finished")
                return False
            self._set_trial_attr_without_commit(session, models.TrialSystemAttributeModel, trial_id,
                                                liveness.OWNER_ATTR, liveness.me())
        return True

    # --- every other write: retried while the database is busy ---------------------------

    def _set_trial_param(self, trial_id: int, *args, **kwargs):  # what the cached storage calls
        with self._taken_over(trial_id):
            return retrying(super()._set_trial_param, self.shown_url)(trial_id, *args, **kwargs)

    def set_trial_intermediate_value(self, trial_id: int, *args, **kwargs):
        with self._taken_over(trial_id):
            return retrying(super().set_trial_intermediate_value, self.shown_url)(trial_id, *args, **kwargs)

    def set_trial_user_attr(self, trial_id: int, *args, **kwargs):
        with self._taken_over(trial_id):
            return retrying(super().set_trial_user_attr, self.shown_url)(trial_id, *args, **kwargs)

    def set_trial_system_attr(self, trial_id: int, *args, **kwargs):
        with self._taken_over(trial_id):
            return retrying(super().set_trial_system_attr, self.shown_url)(trial_id, *args, **kwargs)

    @contextmanager
    def _taken_over(self, trial_id: int) -> Iterator[None]:
        """A trial this process runs was failed by another worker: say so in one line."""
        try:
            yield
        except UpdateFinishedTrialError as e:
            if isinstance(e, TrialTakenOver) or not self._beats.has(trial_id):
                raise
            raise TrialTakenOver(
                f"trial {self.get_trial(trial_id).number} was marked failed by another worker after this one was "
                f"silent for over {self.grace_period}s, and will be retried; if this worker was only slow, "
                "give every worker a larger --grace") from None

    def create_new_study(self, *args, **kwargs):
        return retrying(super().create_new_study, self.shown_url)(*args, **kwargs)

    def delete_study(self, *args, **kwargs):
        return retrying(super().delete_study, self.shown_url)(*args, **kwargs)

    def set_study_user_attr(self, *args, **kwargs):
        return retrying(super().set_study_user_attr, self.shown_url)(*args, **kwargs)

    def set_study_system_attr(self, *args, **kwargs):
        return retrying(super().set_study_system_attr, self.shown_url)(*args, **kwargs)

    def record_heartbeat(self, trial_id: int) -> None:
        retrying(super().record_heartbeat, self.shown_url)(trial_id)

    def get_heartbeat_interval(self) -> int | None:
        # None tells Optuna's own code that it need not beat: we drive trials with ask/tell and
        # keep the heartbeat ourselves (Study.ask would otherwise warn on every trial).
        # `self.heartbeat_interval` and `grace_period` still hold the settings.
        return None

    def close(self) -> None:
        self._beats.stop()
        self.engine.dispose()

    # --- stale trials --------------------------------------------------------------------

    def stale_trial_ids(self, study_id: int) -> list[int]:
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        if not running:
            return []
        silent = set(self._get_stale_trial_ids(study_id))  # heartbeat older than the grace period
        beating = self._trials_with_heartbeat([t._trial_id for t in running])
        stale = []
        for t in running:
            dead = liveness.process_gone(t.system_attrs.get(liveness.OWNER_ATTR))
            if dead is None:  # another machine, or no owner recorded: the heartbeat decides
                dead = t._trial_id in silent or (t._trial_id not in beating and self._older_than_grace(t))
            if dead:
                stale.append(t._trial_id)
        return stale

    def count_states(self, study_id: int) -> dict[TrialState, int]:
        """Trials per state, counted by the database (get_all_trials would load every trial)."""
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self.scoped_session) as session:
            rows = session.execute(sa.select(models.TrialModel.state, sa.func.count())
                                   .where(models.TrialModel.study_id == study_id)
                                   .group_by(models.TrialModel.state))
            return {state: n for state, n in rows}

    def _trials_with_heartbeat(self, trial_ids: list[int]) -> set[int]:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        with _create_scoped_session(self.scoped_session) as session:
            rows = session.execute(sa.select(models.TrialHeartbeatModel.trial_id)
                                   .where(models.TrialHeartbeatModel.trial_id.in_(trial_ids)))
            return {r[0] for r in rows}

    def _older_than_grace(self, t: FrozenTrial) -> bool:
        # A trial gets its first heartbeat right after it starts; one without any was killed in
        # between (or made by an older promptsearch). Its start time is the owner's local clock.
        start = t.datetime_start
        return start is None or datetime.now() - start > timedelta(seconds=self.grace_period or 0)


def fail_stale(study: optuna.Study) -> list[int]:
    """Fail the study's stale trials and queue each one's point again; returns their numbers.

    A trial is marked, then failed, then its copy queued; the copy is made for failed trials
    that carry the mark and have none yet, so a process killed between two steps leaves work
    the next look finishes, and a trial that finished meanwhile (its owner was only slow) is
    neither failed nor copied. Workers do this under the search lock, one at a time.
    """
    storage = getattr(study._storage, "_backend", study._storage)  # under Optuna's cache
    if not isinstance(storage, TrialStorage):
        return []
    numbers = []
    with storage.stale_lock(study._study_id):
        for trial_id in storage.stale_trial_ids(study._study_id):
            try:
                storage.set_trial_system_attr(trial_id, STALE_ATTR, True)
                if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
                    continue
            except UpdateFinishedTrialError:
                continue  # finished meanwhile, by its owner or by another worker
            numbers.append(storage.get_trial(trial_id).number)
            log.warning("trial %d was left running by a stopped process: marked failed, its point queued again",
                        numbers[-1])
        _queue_retries(study, storage)
    return numbers


def _queue_retries(study: optuna.Study, storage: TrialStorage) -> None:
    callback = storage.get_heartbeat_stale_trial_callback()
    if callback is None:
        return
    trials = storage.get_all_trials(study._study_id, deepcopy=False)
    retried = _retried_numbers(trials)
    for t in trials:
        if t.state == TrialState.FAIL and t.system_attrs.get(STALE_ATTR) and t.number not in retried:
            trial = copy.deepcopy(t)
            trial.system_attrs.pop(STALE_ATTR)
            callback(study, trial)  # queues a WAITING copy with the same parameters (up to MAX_RETRY)


def _retried_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of trials that already have a queued (or run) copy."""
    numbers: set[int] = set()
    for t in trials:
        history = t.system_attrs.get("retry_history")
        if isinstance(history, list) and history:
            numbers.add(history[-1])
    return numbers


class _Heartbeats:
    """One daemon thread per storage beating for every trial this process runs."""

    def __init__(self, storage: TrialStorage):
        self.storage = storage
        self.ids: set[int] = set()
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, trial_id: int) -> None:
        with self.lock:
            self.ids.add(trial_id)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="promptsearch-heartbeat", daemon=True)
                self.thread.start()
        self._beat(trial_id)  # at once: a trial without a heartbeat looks dead after the grace period

    def has(self, trial_id: int) -> bool:
        with self.lock:
            return trial_id in self.ids

    def discard(self, trial_id: int) -> None:
        with self.lock:
            self.ids.discard(trial_id)

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        while not self.stop_event.wait(self.storage.heartbeat_interval):
            with self.lock:
                ids = list(self.ids)
            for trial_id in ids:
                self._beat(trial_id)

    def _beat(self, trial_id: int) -> None:
        try:
            self.storage.record_heartbeat(trial_id)
        except Exception as e:  # a missed beat is not fatal; the next one may get through
            log.warning("heartbeat for trial id %d failed: %s", trial_id, " ".join(str(e).split())[:200])
