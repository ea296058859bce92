"""benchmarks/quality_grid.py joins search_quality.py JSON files split by seed, task and arm group:
our arm is compared with another only on the cells both ran, a fixed arm seen in two files is one
cell, and files that disagree (configuration, or one cell's scores) are refused."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from quality_grid import head_to_head, load, report

CONFIG = {"budget_trials": 10, "budget_calls": None, "dev_limit": 100, "test_limit": 4, "model": "smollm2"}


def _row(task: str, arm: str, scores: list[float], dev: float) -> dict:
    return {"task": task, "arm": arm, "test_scores": scores, "test": sum(scores) / len(scores), "dev": dev}


def _file(tmp_path: Path, name: str, seed: int, rows: list[dict], **config) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"config": {**CONFIG, "seed": seed, **config}, "rows": rows}))
    return path


def _files(tmp_path: Path) -> list[Path]:
    hand = _row("a", "hand", [0, 0, 1, 1], 0.5)
    return [
        _file(tmp_path, "s0-a.json", 0, [_row("a", "new", [1, 1, 1, 0], 0.75), hand]),
        _file(tmp_path, "s1-a.json", 1, [_row("a", "new", [1, 1, 0, 0], 0.75), hand]),
        # the DSPy arm ran on seed 0 only, in a file of its own that repeats the hand cell
        _file(tmp_path, "d0-a.json", 0, [_row("a", "gepa", [1, 1, 1, 1], 1.0), hand]),
        _file(tmp_path, "s0-b.json", 0, [_row("b", "new", [0, 0, 0, 0], 0.25), _row("b", "hand", [0, 0, 0, 1], 0.5)]),
    ]


def test_our_arm_is_compared_on_common_cells_only(tmp_path):
    cells = load(_files(tmp_path))
    assert len(cells) == 7  # the hand cell of task a, seed 0 is in two files: one cell
    gepa = next(h for h in head_to_head(cells, "new") if h["arm"] == "gepa")
    # one common cell (a, seed 0): 0.75 against 1.0; new's other cells do not enter its mean here
    assert (gepa["cells"], gepa["ours"], gepa["theirs"], gepa["below"]) == (1, 0.75, 1.0, 1)
    hand = next(h for h in head_to_head(cells, "new") if h["arm"] == "hand")
    assert (hand["cells"], hand["above"], hand["equal"], hand["below"]) == (3, 1, 1, 1)
    assert hand["diff"] == pytest.approx((0.25 + 0 - 0.25) / 3)


def test_report_prints_the_grid_and_the_target(tmp_path):
    text = report(load(_files(tmp_path)), "new")
    assert "| a | 0.750 / 0.500 | 1.000 / - | 0.500 / 0.500 |" in text
    assert "| b | 0.000 / - | - / - | 0.250 / - |" in text
    # new is below gepa on their one common cell; its mean dev - test is (0 + 0.25 + 0.25) / 3
    assert "TARGET NOT MET" in text and "not above gepa, hand" in text and "+0.167" in text


def test_disagreeing_files_are_refused(tmp_path):
    files = _files(tmp_path)
    other = _file(tmp_path, "x.json", 0, [_row("a", "hand", [1, 1, 1, 1], 0.5)])
    with pytest.raises(SystemExit, match=r"a/0/hand is also in .*s0-a\.json with other test scores"):
        load([*files, other])
    budget = _file(tmp_path, "y.json", 0, [], budget_trials=20)
    with pytest.raises(SystemExit, match="budget_trials differ"):
        load([*files, budget])
