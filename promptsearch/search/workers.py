"""Several processes on one search, on one machine or many (PostgreSQL).

A search has a target: the number of finished (complete or pruned) trials it aims at, stored
with it. A worker takes a trial only while the trials that are finished, running or queued
leave room under the target, checked and created under a lock on the search (claims.py); so the
total is exact however many workers run, and a worker that dies leaves its trial to be failed
and re-queued by the next claim, not lost.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from promptsearch.config.task import TaskSpec
from promptsearch.data.dataset import load_split
from promptsearch.errors import ConfigError
from promptsearch.lm.base import LM
from promptsearch.search.loop import POLL_SECONDS, SearchTarget, run_loop
from promptsearch.search.pick import select
from promptsearch.search.runner import TrialEvent, open_run
from promptsearch.storage.store import SearchRecord, Store, slot_counts

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class WorkerSummary:
    finished: int = 0  # trials this worker finished
    target: int = 0  # the search's target when the worker stopped
    search_finished: int = 0  # finished trials in the search, by every worker
    failed_stale: list[int] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped: str | None = None  # why it stopped before the target (a budget: search/budget.py)


def join(store: Store, record: SearchRecord, more: int | None) -> int:
    """The target a worker helps reach: with `more`, first raised to max(target, finished) + more."""
    if more:
        return store.raise_trial_target(record, more)
    target = store.trial_target(record)
    return target if target is not None else store.slot_counts(record).finished  # made before targets


def run_worker(store: Store, record: SearchRecord, lm: LM,
               on_trial: Callable[[TrialEvent], None] | None = None,
               poll_seconds: float = POLL_SECONDS) -> WorkerSummary:
    """Run trials of `record` until the search has its target of finished trials (loop.py)."""
    summary, start = WorkerSummary(), time.perf_counter()
    # Workers started together see the same number of trials; without a seed of their own they
    # would all draw the same start-up candidates. A parallel run is not replayable anyway.
    ctx = open_run(store, record, lm, seed_offset=secrets.randbelow(1 << 30))

    def count(event: TrialEvent) -> None:
        summary.finished += 1
        if on_trial is not None:  # the search's totals, not this worker's
            finished = slot_counts(ctx.study).finished
            on_trial(dataclasses.replace(event, completed=finished, target=store.trial_target(record) or 0))

    end = run_loop(ctx, SearchTarget(ctx), count, poll_seconds=poll_seconds)
    select(ctx)  # with a selection split: the pick, re-made by whichever worker ends last
    summary.stopped = end.stopped
    summary.failed_stale = list(ctx.claims.failed_stale)
    summary.target, summary.search_finished = end.target, end.finished
    summary.wall_seconds = time.perf_counter() - start
    return summary


def check_context(task: TaskSpec, lm: LM) -> None:
    """Every example must fit the model's context on its own (before any instruction or demo);
    a longer one would be cut silently or fail mid-search. Raise a one-line error instead."""
    limit = lm.max_length
    for split in ("train", "dev", "test"):
        for i, ex in enumerate(load_split(task, split), start=1):
            text = "\n".join(f"{k}: {v}" for k, v in ex.fields.items())
            if len(text.encode("utf-8")) + 8 <= limit:  # a token is at least one byte: fits for sure
                continue
            n = lm.count_tokens(text)
            if n > limit:
                raise ConfigError(f"{task.split_path(split)}: example {i} is {n} tokens long, more than the "
                                  f"model's context of {limit} tokens; shorten it or remove it")


# --- starting workers as processes ---------------------------------------------------------

@dataclass
class WorkerExit:
    index: int
    code: int
    last_error: str  # the last line the worker wrote on stderr


class WorkerPool:
    """N `promptsearch worker NAME` processes. The database URL travels in the environment,
    not on the command line, where other users of the machine could read its password."""

    def __init__(self, db_url: str, name: str, n: int):
        self.db_url, self.name, self.n = db_url, name, n
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self._dir = tempfile.TemporaryDirectory(prefix="promptsearch-workers-")

    def start(self) -> None:
        env = {**os.environ, "PROMPTSEARCH_DB": self.db_url, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        if "OMP_NUM_THREADS" not in env:  # N processes with a thread per core each would thrash
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.n))
        for i in range(self.n):
            log_path = Path(self._dir.name) / f"worker-{i}.err"
            with open(log_path, "wb") as err:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "promptsearch", "worker", self.name],
                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err))
            self.logs.append(log_path)
        log.info("started %d workers: pids %s", self.n, [p.pid for p in self.procs])

    def running(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def wait(self, on_tick: Callable[[], None] | None = None, tick_seconds: float = 0.5) -> list[WorkerExit]:
        while self.running():
            if on_tick is not None:
                on_tick()
            time.sleep(tick_seconds)
        if on_tick is not None:
            on_tick()
        return [WorkerExit(i, p.returncode, _last_line(self.logs[i])) for i, p in enumerate(self.procs)]

    def interrupt(self, grace_seconds: float = 30.0) -> None:
        """Ctrl-C: each worker fails its trial and exits; any still running after the grace is killed."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + grace_seconds
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def close(self) -> None:
        self._dir.cleanup()


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1]
