"""SIGKILL a search at random moments, then resume, and check after every kill that nothing was
lost: each trial finished before the kill is still there with its value, each cached evaluation
and candidate is still there, the trial that was running is failed and its point queued again,
and in the end the study reaches its trial count.

The first kill hits a real `python -m promptsearch optimize` process. The resumes after it run
`promptsearch resume` (and a few `export`s) in processes forked from one that loaded the real
model once (zygote.py): separate processes, each killed with SIGKILL, without paying a model
load per kill point. The delays come from random.Random(SEED); set PROMPTSEARCH_CRASH_SEED to
replay a failure.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import dbcheck
import pytest
from zygote import Zygote

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "examples" / "review_sentiment.yaml"
SEED = int(os.environ.get("PROMPTSEARCH_CRASH_SEED", "6"))
SEARCH_KILLS, EXPORT_KILLS = 20, 4
TRIALS = 40  # the study's trial count at the start; raised by 10 whenever the kills near it
# 70 candidates for 40-odd distinct trials: the sampler offers scored ones again, and each such
# repeat is a failed trial (search/pipeline.py) that is all database writes, so the kills land
# there too, not only in scoring
SPACE = """name: crash
instructions:
  - "Classify the {inputs}. Answer with one of: {labels}."
  - "Is the {inputs} {labels}?"
  - "Label the {inputs}."
  - "Sentiment of the {inputs}?"
  - ""
demos:
  counts: [0, 1, 2]
  selection: [random]
  draws: 3
templates: [plain, chat]
seed: 0
"""


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


DEV_LIMIT = 1


def _aim(aim: str, rng: random.Random, db_path: Path, pid: int, per_trial: float) -> float:
    """Wait for the kill moment; returns the seconds since the process started. `anywhere`: a
    random delay; `scored`: just after a trial's evaluations are stored, while the trial itself
    is written; `told`: just after a trial is told, while the next one is proposed."""
    t0 = time.monotonic()
    if aim == "export":
        time.sleep(rng.uniform(0, 0.3))
    elif aim == "anywhere":
        time.sleep(rng.uniform(0, 2.5 * per_trial + 0.5))
    else:
        jitter = rng.uniform(0, 0.02)
        deadline = t0 + 6 * per_trial + 5
        while time.monotonic() < deadline:
            finished, scored = dbcheck.progress(db_path, pid, DEV_LIMIT)
            if (aim == "scored" and scored) or (aim == "told" and finished):
                break
            time.sleep(0.002)
        time.sleep(jitter)
    return time.monotonic() - t0


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing(tmp_path):
    rng = random.Random(SEED)
    replay = f"(replay with PROMPTSEARCH_CRASH_SEED={SEED})"
    db_path = tmp_path / "crash.db"
    db = f"sqlite:///{db_path}"
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    phases: Counter[str] = Counter()
    dead: list[int] = []

    # 1. a real `python -m promptsearch optimize`, killed once its first trial is in
    proc = subprocess.Popen([sys.executable, "-m", "promptsearch", "optimize", str(TASK), "--space", str(space),
                             "--trials", str(TRIALS), "--name", "crash", "--dev-limit", str(DEV_LIMIT), "--db", db],
                            cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    zygote = Zygote.shared()  # loads the model (once per session) while the first process runs
    try:
        _wait_for(lambda: dbcheck.complete_count(db_path) >= 1 or proc.poll() is not None, 300, "a first trial")
        assert proc.poll() is None, proc.stderr.read().decode()
        before = dbcheck.snapshot(db_path)
        time.sleep(rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        dead.append(proc.pid)
        after = dbcheck.snapshot(db_path)
        assert not dbcheck.check_nothing_lost(before, after), replay
        phases[dbcheck.phase(before, after, proc.pid)] += 1

        # 2. resume -> kill -> resume ..., with an export killed now and then
        kinds = ["resume"] * (SEARCH_KILLS - 1) + ["export"] * EXPORT_KILLS
        rng.shuffle(kinds)
        per_trial, total, i = 1.0, TRIALS, 0
        while kinds:
            kind, i = kinds.pop(), i + 1
            assert i <= 3 * (SEARCH_KILLS + EXPORT_KILLS), f"too many processes ended before their kill {replay}"
            before = dbcheck.snapshot(db_path)
            if total - len(before.by_state("COMPLETE", "PRUNED")) < 5:
                total += 10  # `resume --trials N` asks for N more: the count can grow on the way
            left = total - len(before.by_state("COMPLETE", "PRUNED"))
            out = tmp_path / f"export-{i}.json"
            argv = (["resume", "crash", "--trials", str(left), "--db", db] if kind == "resume" else
                    ["export", "crash", "--format", "json", "-o", str(out), "--db", db])
            t0 = time.monotonic()
            err = tmp_path / f"child-{i}.err"
            pid = zygote.start(argv, err)
            aim = "export" if kind == "export" else rng.choice(("anywhere", "anywhere", "scored", "told"))
            delay = _aim(aim, rng, db_path, pid, per_trial)
            with contextlib.suppress(ProcessLookupError):  # it had finished
                os.kill(pid, signal.SIGKILL)
            code = zygote.wait(pid)
            assert code in (-signal.SIGKILL, 0), f"kill {i} ({kind}): exit {code}: {err.read_text()} {replay}"
            dead.append(pid)
            if code == 0:  # it finished before the kill: not a kill point, try this one again
                kinds.append(kind)
            after = dbcheck.snapshot(db_path)
            where = f"kill {i} ({kind}, aimed {aim}, {delay:.2f}s after start) {replay}"
            assert not dbcheck.check_nothing_lost(before, after), where
            if kind == "export":
                assert after.trials.keys() == before.trials.keys() and after.evaluations == before.evaluations, where
                if out.exists() and out.stat().st_size:
                    json.loads(out.read_text())  # a complete file, or none
                phases["exporting"] += code != 0
                continue
            if code != 0:
                phases[dbcheck.phase(before, after, pid)] += 1
            mine = [t for t in after.trials.values() if t.owner_pid == pid]
            if mine:  # it got past its start: it failed what the earlier kills left running, and queued it
                for t in before.by_state("RUNNING"):
                    assert after.trials[t.number].state == "FAIL", f"trial {t.number} not failed; {where}"
                earlier = {t.number for t in before.by_state("RUNNING", "FAIL")}
                assert not dbcheck.check_retried(after, earlier), f"{dbcheck.check_retried(after, earlier)}; {where}"
                finished_here = len([t for t in mine if t.state in ("COMPLETE", "PRUNED")])
                per_trial = max(0.2, min(5.0, (time.monotonic() - t0) / max(1, finished_here + 0.5)))
            for t in after.by_state("RUNNING"):  # no owner: made by a claim killed before it recorded one
                assert t.owner is None or t.owner_pid in dead, \
                    f"trial {t.number} runs under a live pid {t.owner_pid}; {where}"

        # 3. the last resume runs to the end
        before = dbcheck.snapshot(db_path)
        left = total - len(before.by_state("COMPLETE", "PRUNED"))
        print(f"\n{total - left} trials finished during the kills, {left} left for the last resume")
        err = tmp_path / "last.err"
        pid = zygote.start(["resume", "crash", "--trials", str(left), "--db", db], err)
        code = zygote.wait(pid)
        assert code == 0, err.read_text()
        final = dbcheck.snapshot(db_path)
        assert not dbcheck.check_nothing_lost(before, final), replay
        assert len(final.by_state("COMPLETE", "PRUNED")) == total, replay
        assert not final.by_state("RUNNING") and not final.by_state("WAITING"), replay
        assert not dbcheck.check_retried(final), replay
        failed = len([t for t in final.by_state("FAIL") if "repeat_of" not in t.user])  # repeats are not failures
    finally:
        if proc.poll() is None:
            proc.kill()
    kills = SEARCH_KILLS + EXPORT_KILLS
    print(f"\n{kills} kill points (seed {SEED}): {dict(phases)}; {failed} trials failed and retried; "
          f"{total} trials reached")
    assert sum(phases.values()) == kills >= 20
