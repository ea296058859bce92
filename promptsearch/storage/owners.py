"""Who runs each trial of a search (table `ps_trial_owners`), and its heartbeat.

A row is written when a trial is claimed, under the search lock, before the lock is released
(search/claims.py), so a RUNNING trial without a row was made by a process that died mid-claim.
While the trial runs, one background thread per Store moves its `heartbeat` to the database's
current time every `heartbeat_interval` seconds; the database's clock, not the machine's, so
workers whose clocks disagree still agree on how long one has been silent.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from promptsearch.storage.models import TrialOwnerRow
from promptsearch.storage.retry import Sessions

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL = 10  # seconds between heartbeats of a running trial
GRACE_PERIOD = 60  # silence after which another machine's trial counts as dead


@dataclass(frozen=True)
class Owner:
    number: int  # the trial
    owner: dict[str, Any]  # liveness.me() of the process that claimed it
    silent_seconds: float  # since its last heartbeat, by the database's clock
    failed_stale: bool
    requeued: bool


class TrialOwners:
    def __init__(self, db: Sessions, heartbeat_interval: int = HEARTBEAT_INTERVAL):
        self.db = db
        self._beats = _Heartbeats(self, heartbeat_interval)

    def record(self, search_id: int, number: int, owner: dict[str, Any]) -> None:
        """`owner` runs trial `number` from now on; its first heartbeat is now."""
        self.db.write(lambda s: s.add(TrialOwnerRow(search_id=search_id, number=number, owner=owner,
                                                    heartbeat=sa.func.current_timestamp())))

    def look(self, search_id: int, numbers: Sequence[int]) -> dict[int, Owner]:
        """The owners of these trials (those that have one) with their silence, and, in one
        query, every trial failed as stale whose point is not known to be queued again."""
        unqueued = TrialOwnerRow.failed_stale.is_(True) & TrialOwnerRow.requeued.is_(False)
        return self._select(search_id, TrialOwnerRow.number.in_(list(numbers)) | unqueued if numbers else unqueued)

    def _select(self, search_id: int, where: Any) -> dict[int, Owner]:
        query = sa.select(TrialOwnerRow).where(TrialOwnerRow.search_id == search_id, where)

        def read(s: Session) -> tuple[list[TrialOwnerRow], datetime]:
            now = s.scalar(sa.select(sa.func.current_timestamp()))
            assert now is not None  # CURRENT_TIMESTAMP always returns a row
            return list(s.scalars(query)), now
        rows, now = self.db.read(read)
        return {r.number: Owner(r.number, r.owner, (_utc(now) - _utc(r.heartbeat)).total_seconds(),
                                r.failed_stale, r.requeued) for r in rows}

    def mark(self, search_id: int, number: int, **flags: bool) -> None:
        """Set failed_stale and/or requeued."""
        self.db.write(lambda s: s.execute(sa.update(TrialOwnerRow).where(
            TrialOwnerRow.search_id == search_id, TrialOwnerRow.number == number).values(**flags)))

    def of_search(self, search_id: int) -> dict[int, Owner]:
        return self._select(search_id, sa.true())

    def beat(self, search_id: int, numbers: Sequence[int]) -> None:
        self.db.write(lambda s: s.execute(sa.update(TrialOwnerRow).where(
            TrialOwnerRow.search_id == search_id, TrialOwnerRow.number.in_(list(numbers)))
            .values(heartbeat=sa.func.current_timestamp())))

    def start_beating(self, search_id: int, number: int) -> None:
        self._beats.add((search_id, number))

    def stop_beating(self, search_id: int, number: int) -> None:
        self._beats.discard((search_id, number))

    def close(self) -> None:
        self._beats.stop()


def _utc(t: datetime) -> datetime:
    """SQLite returns its UTC times without a zone, PostgreSQL with one."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class _Heartbeats:
    """One daemon thread beating for every trial this Store's process runs."""

    def __init__(self, owners: TrialOwners, interval: int):
        self.owners, self.interval = owners, interval
        self.keys: set[tuple[int, int]] = set()
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, key: tuple[int, int]) -> None:
        with self.lock:
            self.keys.add(key)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="promptsearch-heartbeat", daemon=True)
                self.thread.start()

    def discard(self, key: tuple[int, int]) -> None:
        with self.lock:
            self.keys.discard(key)

    def stop(self) -> None:
        self.stop_event.set()

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            with self.lock:
                by_search: dict[int, list[int]] = {}
                for search_id, number in self.keys:
                    by_search.setdefault(search_id, []).append(number)
            for search_id, numbers in by_search.items():
                try:
                    self.owners.beat(search_id, numbers)
                except Exception as e:  # a missed beat is not fatal; the next one may get through
                    log.warning("heartbeat for trials %s failed: %s", numbers, " ".join(str(e).split())[:200])
