"""Token bookkeeping of the scoring engine, without a model (fast)."""
from __future__ import annotations

import pytest

from promptsearch.errors import ConfigError
from promptsearch.lm import plan


def char_encode(text: str) -> list[int]:
    """A toy tokenizer: one token per character, except that "ab" merges into one token (99)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("ab", i):
            out.append(99)
            i += 2
        else:
            out.append(ord(text[i]))
            i += 1
    return out


def test_encode_pair_moves_trailing_space_onto_the_continuation():
    ctx, cont = plan.encode_pair(char_encode, "x: ", "y", empty_context=[1])
    assert ctx == char_encode("x:") and cont == char_encode(" y")


def test_encode_pair_splits_the_whole_encoding_at_the_context_length():
    # "a" + "b" tokenizes as one merged token: the continuation is what follows the context's
    # own encoding in the encoding of the whole, like lm-eval (here: nothing of "b" survives alone)
    ctx, cont = plan.encode_pair(char_encode, "xa", "bc", empty_context=[1])
    assert ctx == [ord("x"), ord("a")]
    assert char_encode("xabc") == [ord("x"), 99, ord("c")]
    assert cont == [ord("c")]


def test_encode_pair_empty_context_uses_the_prefix_token():
    assert plan.encode_pair(char_encode, "", "hi", empty_context=[1]) == ([1], char_encode("hi"))


def test_one_token_labels_share_their_context_row():
    pairs = [([1, 2, 3], [7]), ([1, 2, 3], [8]), ([1, 2, 4], [7])]
    rows = plan.plan_rows(pairs, max_length=100)
    assert [r.tokens for r in rows] == [[1, 2, 3], [1, 2, 4]]
    assert [(t.index, t.start, t.cont) for t in rows[0].targets] == [(0, 2, (7,)), (1, 2, (8,))]


def test_multi_token_continuation_gets_its_own_row_and_a_one_token_label_rides_on_it():
    pairs = [([1, 2], [5]), ([1, 2], [6, 7, 8])]
    rows = plan.plan_rows(pairs, max_length=100)
    assert len(rows) == 1 and rows[0].tokens == [1, 2, 6, 7]  # input = ctx + cont[:-1]
    assert sorted((t.index, t.start) for t in rows[0].targets) == [(0, 1), (1, 1)]
    assert rows[0].need == 1


def test_long_inputs_are_truncated_on_the_left_and_empty_continuations_skipped():
    rows = plan.plan_rows([(list(range(10)), [20, 21]), ([1], [])], max_length=5)
    assert len(rows) == 1
    assert rows[0].tokens == [6, 7, 8, 9, 20] and rows[0].targets[0].start == 3
    with pytest.raises(ConfigError):
        plan.plan_rows([([1], list(range(10)))], max_length=5)


def test_common_prefix_len():
    assert plan.common_prefix_len([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert plan.common_prefix_len([[5], [1, 2]]) == 0
    assert plan.common_prefix_len([]) == 0


def test_shared_prefix_is_token_exact_at_a_merge_boundary():
    # As strings, "..ab" and "..ac" share "..a"; as tokens they share only "..": "ab" is one token.
    # The engine works on tokens, so the prefix it caches can never straddle a merged token.
    a, b = char_encode("q:abz"), char_encode("q:acz")
    rows = [plan.Row(a, need=len(a) - 1), plan.Row(b, need=len(b) - 1)]
    assert plan.shared_prefix(rows) == 2
    assert a[:2] == b[:2] and a[2] != b[2]


def test_shared_prefix_stops_before_the_first_position_read():
    rows = [plan.Row([1, 2, 3, 4], need=1), plan.Row([1, 2, 3, 5], need=3)]
    assert plan.shared_prefix(rows) == 1


def test_prefix_groups_split_calls_that_mix_prompts():
    head_a, head_b = [1] + [2] * 300, [1] + [3] * 300
    rows = [plan.Row([*h, 10 + i, 50], need=len(h) + 1) for h in (head_a, head_b) for i in range(4)]
    groups = plan.prefix_groups(rows)
    assert sorted(p for p, _ in groups) == [301, 301]
    assert sorted(len(g) for _, g in groups) == [4, 4]
    # one prompt: a single group with the whole head as prefix
    groups = plan.prefix_groups(rows[:4])
    assert [(p, len(g)) for p, g in groups] == [(301, 4)]


def test_prefix_groups_look_below_a_short_shared_branch():
    # a chat prompt and three plain ones that share only "Review:" (2 tokens), each with 60 tokens of
    # its own, 16 examples each (--parallel-candidates): a group per prompt, not one group that
    # recomputes the three plain prompts on every row
    heads = [[6] + [19] * 61] + [[7, 8] + [20 + j] * 60 for j in range(3)]
    rows = [plan.Row([*h, 100 + i, 50], need=len(h) + 1) for h in heads for i in range(16)]
    assert sorted((p, len(g)) for p, g in plan.prefix_groups(rows)) == [(62, 16)] * 4


def test_prefix_groups_keep_short_branches_together():
    rows = [plan.Row([1, 2, 10 + i, 50], need=3) for i in range(4)]
    assert [(p, len(g)) for p, g in plan.prefix_groups(rows)] == [(2, 4)]


def test_buckets_sort_by_length_and_respect_limits():
    lengths = [5, 30, 10, 29, 28, 6]
    assert plan.buckets(lengths, batch_size=2, max_tokens=1000, overhead=100) == [[1, 3], [4, 2], [5, 0]]
    assert plan.buckets(lengths, batch_size=2, max_tokens=1000, overhead=0) == [[i] for i in [1, 3, 4, 2, 5, 0]]
    out = plan.buckets(lengths, batch_size=8, max_tokens=60, overhead=50)
    assert all(len(b) * lengths[b[0]] <= 60 for b in out) and len(out) == 3  # [30, 29] [28, 10] [6, 5]
    assert plan.buckets(lengths, batch_size=8, max_tokens=1000, overhead=1000) == [[1, 3, 4, 2, 5, 0]]
    assert plan.buckets([], 4, 100) == []


def test_buckets_minimise_padding():
    import random

    rng = random.Random(0)
    lengths = [rng.randint(6, 50) for _ in range(128)]
    out = plan.buckets(lengths, batch_size=32, max_tokens=32 * 256, overhead=64)
    assert sorted(i for b in out for i in b) == list(range(128))
    assert all(len(b) <= 32 for b in out)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in out)
    fixed = sum(len(b) * max(lengths[i] for i in b) for b in
                [sorted(range(128), key=lambda i: -lengths[i])[k:k + 32] for k in range(0, 128, 32)])
    assert padded < 0.95 * fixed and padded < 1.1 * sum(lengths)


def test_pack_fills_lanes_without_overflow():
    import random

    rng = random.Random(0)
    lengths = [rng.randint(6, 50) for _ in range(128)]
    cap = max(lengths)
    lanes = plan.pack(lengths, cap)
    assert sorted(i for lane in lanes for i in lane) == list(range(128))
    assert all(sum(lengths[i] for i in lane) <= cap for lane in lanes)
    assert sum(lengths) > 0.93 * cap * len(lanes)  # ~5% padding, vs ~17% for fixed batches of 32
    assert plan.pack([7, 3, 200], 10) == [[2], [0, 1]]  # too long for any lane: a lane of its own
    assert plan.pack([], 10) == []
