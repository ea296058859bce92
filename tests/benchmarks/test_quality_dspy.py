"""The DSPy arms' adapter (benchmarks/quality_dspy.py) renders and parses as our arms do, their pick
turns into the prompt our held-out verdict scores, and the winner's-curse summary of the benchmark."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

dspy = pytest.importorskip("dspy")

from quality_dspy import generic_parse, make_adapter, map_label, to_candidate  # noqa: E402
from quality_dspy_arms import write_prompt  # noqa: E402
from quality_winners import gap_summary  # noqa: E402

import promptsearch as ps  # noqa: E402
from promptsearch.data import load_split  # noqa: E402
from promptsearch.render.prompt import Candidate, render_template  # noqa: E402
from promptsearch.strategies import DIRECT  # noqa: E402
from promptsearch.verdict.heldout import load_baseline_file  # noqa: E402

LABELS = ("Yes", "No", "No way")


@pytest.mark.parametrize("answer, label", [
    ("Yes", "Yes"), (" no ", "No"), ("YES.", "Yes"), ("No way, never", "No way"), ("no, it is not", "No"),
    ("maybe", "maybe"), ("", ""),
])
def test_map_label_exact_then_case_then_longest_prefix(answer, label):
    assert map_label(answer, LABELS) == label


def test_the_task_signature_renders_as_our_plain_prompt(tiny_task):
    task = ps.load_task(tiny_task)
    train, dev = load_split(task, "train"), load_split(task, "dev")
    adapter = make_adapter(task, 16)
    signature = dspy.Signature("review -> label", "Classify as negative, positive.")
    demos = [dspy.Example(**e.fields) for e in train[:2]]
    messages = adapter.format(signature, demos, dict(dev[0].fields))
    ours = render_template(Candidate(instruction="Classify as negative, positive.", demos=tuple(train[:2]),
                                     strategy=DIRECT), task)
    assert messages == [{"role": "user", "content": ours.fill(dev[0]) + ours.answer_prefix.rstrip()}]
    assert messages[0]["content"].endswith("\nLabel:")
    assert adapter.parse(signature, " Positive.\n") == {"label": "positive"}


def test_the_pick_is_scored_as_the_prompt_it_was_searched_with(tiny_task, tmp_path):
    task = ps.load_task(tiny_task)
    train = load_split(task, "train")
    demos = [dict(e.fields) for e in train[:3]] + [{"review": "no label"}]  # an incomplete demo is left out
    candidate = to_candidate(task, "Classify as negative, positive.", demos)
    assert [d.fields for d in candidate.demos] == [e.fields for e in train[:3]]
    template = load_baseline_file(write_prompt(candidate, task, tmp_path / "pick.json"), task)
    assert template.hash == render_template(candidate, task).hash


def test_other_signatures_parse_leniently():
    signature = dspy.Signature("question -> proposed_instruction, reason")
    assert generic_parse(signature, "Proposed instruction: Be brief.\nReason: short") == {
        "proposed_instruction": "Be brief.", "reason": "short"}
    assert generic_parse(signature, "  Just answer.  ") == {"proposed_instruction": "Just answer.", "reason": ""}


def test_gap_summary_means_per_arm():
    rows = [{"arm": "tpe", "dev": 0.8, "test": 0.6, "gap": 0.2, "start_dev": 0.5, "start_test": 0.7,
             "start_gap": -0.2},
            {"arm": "tpe", "dev": 0.7, "test": 0.7, "gap": 0.0, "start_dev": 0.5, "start_test": 0.5,
             "start_gap": 0.0},
            {"arm": "hand", "dev": 0.6, "test": 0.5, "gap": 0.1, "start_dev": None, "start_test": None,
             "start_gap": None}]
    tpe, hand = gap_summary(rows)
    assert tpe["arm"] == "tpe" and tpe["mean_gap"] == pytest.approx(0.1) and tpe["max_gap"] == pytest.approx(0.2)
    assert tpe["mean_start_gap"] == pytest.approx(-0.1) and tpe["start_above_pick"] == 1
    assert hand["mean_start_gap"] is None and hand["mean_start_test"] is None
