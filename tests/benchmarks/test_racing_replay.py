"""benchmarks/racing_replay.py replays the race's decisions on stored dev scores: on the candidates
of tests/search/test_racing.py it stops the same loser at the same rung and scores the same 72
examples as the live race, and a stopped trial that would have led is counted."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from racing_replay import replay


def test_replay_stops_the_loser_the_live_race_stops():
    good, bad = [1.0] * 32, [0.0] * 32
    assert replay([good, bad, good], list(range(32)), start=8, confidence=0.9) == (1, 0, 72, 1.0)


def test_a_false_stop_is_counted():
    # the leader is right on the first 8 examples only; the candidate wrong on those, right on the other 24
    leader = [1.0] * 8 + [0.0] * 24
    late = [0.0] * 8 + [1.0] * 24
    stopped, wrong, scored, best = replay([leader, late], list(range(32)), start=8, confidence=0.9)
    assert (stopped, wrong, scored, best) == (1, 1, 40, 0.25)
