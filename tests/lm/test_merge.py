"""Lanes of several prefix groups in one forward (HFLM.merge_groups, lm/merge.py), on the real
embedded model: the same log-probs as one group at a time and as the naive reference, in fewer
forward passes. On by default on a GPU only; forced on here."""
from __future__ import annotations

import pytest
from test_hf import DEMOS, LABELS, naive, requests

from promptsearch.lm import plan
from promptsearch.lm.base import LOGPROB_TOLERANCE

HEADS = [DEMOS, "Is each review positive or negative?\n\n", DEMOS.replace("Classify", "Label"), ""]


def _run(lm, reqs, merge: bool):
    old = lm.merge_groups
    lm.merge_groups = merge
    lm.stats.clear()
    try:
        return lm.loglikelihood(reqs), dict(lm.stats)
    finally:
        lm.merge_groups = old


def test_merged_groups_score_like_one_group_at_a_time(lm):
    reqs = [r for head in HEADS for r in requests(head)]  # 4 prompts x 4 sentences x 3 labels
    assert lm.packs and len(plan.prefix_groups(plan.plan_rows(
        [plan.encode_pair(lm.tok_encode, r.context, r.continuation, [0]) for r in reqs], lm.max_length))) >= 3
    apart, work_apart = _run(lm, reqs, merge=False)
    merged, work_merged = _run(lm, reqs, merge=True)
    for a, m in zip(apart, merged):
        assert m.num_tokens == a.num_tokens and m.is_greedy == a.is_greedy
        assert m.logprob == pytest.approx(a.logprob, abs=LOGPROB_TOLERANCE)
    assert work_merged["batches"] < work_apart["batches"]  # the groups' lanes shared forwards
    assert work_merged["prefixes"] == work_apart["prefixes"]  # each prefix still ran once
    for r, m in list(zip(reqs, merged))[::7]:  # and against the plain forward
        logprob, n, greedy = naive(lm, r)
        assert m.num_tokens == n and m.is_greedy == greedy
        assert m.logprob == pytest.approx(logprob, abs=LOGPROB_TOLERANCE)


def test_merging_is_off_on_a_cpu_by_default(lm):
    assert lm.device.type == "cpu" and lm.merge_groups is False
    assert LABELS  # the shared request set above is the one test_hf checks
