"""Read a search database with plain sqlite3 (independent of the code under test) and compare
snapshots taken before and after a kill."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

MAX_RETRY = 2  # promptsearch.search.claims.MAX_RETRY


@dataclass
class Trial:
    number: int
    state: str
    value: float | None
    system: dict = field(default_factory=dict)
    user: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    owner: dict | None = None  # ps_trial_owners: None if the claim did not get that far

    @property
    def owner_pid(self) -> int | None:
        return (self.owner or {}).get("pid")


@dataclass
class Snapshot:
    trials: dict[int, Trial]
    evaluations: set[tuple]
    candidates: set[tuple]
    integrity: str

    def by_state(self, *states: str) -> list[Trial]:
        return [t for t in self.trials.values() if t.state in states]


def snapshot(db: Path) -> Snapshot:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        trials = {}
        ids = {}
        for tid, number, state in con.execute("SELECT trial_id, number, state FROM trials"):
            trials[number] = Trial(number, state, None)
            ids[tid] = number
        for tid, value in con.execute("SELECT trial_id, value FROM trial_values WHERE objective = 0"):
            trials[ids[tid]].value = value
        for table, attr in (("trial_system_attributes", "system"), ("trial_user_attributes", "user")):
            for tid, key, value in con.execute(f"SELECT trial_id, key, value_json FROM {table}"):
                getattr(trials[ids[tid]], attr)[key] = json.loads(value)
        for tid, name, value in con.execute("SELECT trial_id, param_name, param_value FROM trial_params"):
            trials[ids[tid]].params[name] = value
        for number, owner in con.execute("SELECT number, owner FROM ps_trial_owners"):  # one search
            trials[number].owner = json.loads(owner)
        evaluations = set(con.execute("SELECT model, prompt_hash, decoding, example_id, prediction, score "
                                      "FROM ps_evaluations"))
        candidates = set(con.execute("SELECT search_id, prompt_hash, prompt FROM ps_candidates"))
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()
    return Snapshot(trials, evaluations, candidates, integrity)


def complete_count(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def check_nothing_lost(before: Snapshot, after: Snapshot) -> list[str]:
    """Every finished trial, cached evaluation and candidate of `before` is in `after`, unchanged."""
    problems = []
    if after.integrity != "ok":
        problems.append(f"integrity_check: {after.integrity}")
    for t in before.by_state("COMPLETE", "PRUNED"):
        now = after.trials.get(t.number)
        if now is None or (now.state, now.value) != (t.state, t.value):
            problems.append(f"trial {t.number} was {t.state} {t.value}, now {now and (now.state, now.value)}")
    if not before.evaluations <= after.evaluations:
        problems.append(f"{len(before.evaluations - after.evaluations)} cached evaluations lost")
    if not before.candidates <= after.candidates:
        problems.append(f"{len(before.candidates - after.candidates)} candidates lost")
    return problems


def check_retried(snap: Snapshot, among: set[int] | None = None) -> list[str]:
    """Every failed trial's point (of `among`, default all) was queued again, unless it already
    died MAX_RETRY times."""
    queued = {t.system["retry_history"][-1] for t in snap.trials.values() if t.system.get("retry_history")}
    problems = []
    for t in snap.by_state("FAIL"):
        if (among is not None and t.number not in among) or "repeat_of" in t.user:
            continue  # a repeated candidate's trial is failed on purpose, never queued (search/pipeline.py)
        if t.number not in queued and len(t.system.get("retry_history", [])) < MAX_RETRY:
            problems.append(f"failed trial {t.number} was not queued again")
    for t in snap.trials.values():
        history = t.system.get("retry_history")
        original = snap.trials[history[-1]].params if history else {}
        if history and any(t.params.get(k) != v for k, v in original.items()):
            problems.append(f"trial {t.number} retries {history[-1]} with other parameters")
    return problems


def phase(before: Snapshot, after: Snapshot, pid: int) -> str:
    """Where the process was when it was killed, read from what it left in the database."""
    mine = [t for t in after.trials.values() if t.owner_pid == pid]
    running = [t for t in mine if t.state == "RUNNING"]
    if not running and any(t.owner is None for t in after.by_state("RUNNING")) and \
            not any(t.owner is None for t in before.by_state("RUNNING")):
        return "claiming (trial made, owner not yet recorded)"
    if not running:
        return "between trials" if mine else "starting (before its first trial)"
    t = running[0]
    h = t.user.get("prompt_hash")
    if not t.params and h is None:
        return "proposing (sampling a point)"
    if h is None:
        return "storing the candidate"
    scored = {e[3] for e in after.evaluations if e[1] == h}
    if "dev_examples" in t.user or (scored and len(scored) >= _dev_size(after)):
        return "writing the trial (scored, not yet told)"
    return "scoring"


def _dev_size(snap: Snapshot) -> int:
    sizes = [t.user.get("dev_examples") for t in snap.trials.values() if t.user.get("dev_examples")]
    return max(sizes) if sizes else 10**9


def progress(db: Path, pid: int, dev_size: int) -> tuple[int, bool]:
    """(trials `pid` has finished, whether its running trial is scored but not yet told)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = con.execute(
            "SELECT t.state, (SELECT value_json FROM trial_user_attributes u "
            "                 WHERE u.trial_id = t.trial_id AND u.key = 'prompt_hash') "
            "FROM trials t JOIN ps_trial_owners o ON o.number = t.number "
            "WHERE json_extract(o.owner, '$.pid') = ?", (pid,)).fetchall()
        finished = sum(state in ("COMPLETE", "PRUNED") for state, _ in rows)
        scored = False
        for state, h in rows:
            if state == "RUNNING" and h is not None:
                n = con.execute("SELECT COUNT(*) FROM ps_evaluations WHERE prompt_hash = ?",
                                (json.loads(h),)).fetchone()[0]
                scored = n >= dev_size
        return finished, scored
    finally:
        con.close()
