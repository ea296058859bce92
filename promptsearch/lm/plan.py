"""Token bookkeeping for HFLM, free of tensors and models so it can be tested on its own.

The engine turns a call's requests into *rows* (token sequences the model must run) and splits each
row into a shared prefix, run once per call, and a suffix, packed with others into batches:

    request  (context, continuation)  ->  encode_pair  ->  ctx tokens | cont tokens
    rows     one per distinct model input; a 1-token continuation rides on its context's row
    groups   rows sharing a long token prefix P; the prefix's KV cache is computed once per group
    lanes    suffixes packed end to end, first-fit decreasing, into lanes no longer than the
             longest suffix: one model row each, so a batch carries almost no padding
    batches  lanes sorted by length, <= batch_size lanes and <= max_tokens padded tokens each

The shared prefix is a prefix of the *token* sequences, never of the strings, so it is exact by
construction: "...\\n\\n" + "Review" may tokenize differently from "...\\n\\nReview", and comparing
tokens sidesteps the question entirely.
"""
from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from promptsearch.errors import ConfigError


@dataclass
class Target:
    """Score `cont` for request `index`: the output at row position `start` predicts cont[0]."""

    index: int
    start: int
    cont: tuple[int, ...]


@dataclass
class Row:
    """One model input. `need` is the first position whose output is read: the shared prefix must
    stop at or before it, so every output we read is computed in the suffix pass."""

    tokens: list[int]
    need: int
    targets: list[Target] = field(default_factory=list)


def encode_pair(encode: Callable[[str], list[int]], context: str, continuation: str,
                empty_context: list[int]) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness `_encode_pair`: trailing whitespace of the context moves onto the
    continuation (" positive" is one token; a context ending in a space would split it), the pair
    is encoded whole, and the continuation is whatever follows the context's own encoding."""
    if not context:  # lm-eval conditions an empty context on the BOS (else EOS) token
        return list(empty_context), encode(continuation)
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
    whole = encode(context + continuation)
    ctx = encode(context)
    return ctx, whole[len(ctx):]


def plan_rows(pairs: Sequence[tuple[list[int], list[int]]], max_length: int) -> list[Row]:
    """Rows for (ctx, cont) token pairs; request i's target has index i.

    Input = (ctx + cont)[:-1], left-truncated to max_length like lm-eval. Identical inputs share a
    row; a one-token continuation whose context is a prefix of an existing row reuses that row
    (a label task: every label of an example is scored from one pass over the example's context).
    Empty continuations get no target (log-prob 0).
    """
    rows: list[Row] = []
    by_input: dict[tuple[int, ...], Row] = {}  # exact model input -> row
    by_context: dict[tuple[int, ...], Row] = {}  # context (input up to a target's start) -> row
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][1]) <= 1)  # multi-token first
    for i in order:
        ctx, cont = pairs[i]
        if not cont:
            continue
        if len(cont) > max_length:
            raise ConfigError(f"continuation of {len(cont)} tokens is longer than the model's context "
                              f"({max_length}); shorten the label or target text")
        full = (ctx + cont)[-(max_length + 1):]
        inp, start = full[:-1], len(full) - len(cont) - 1
        key = tuple(inp)
        row = by_input.get(key) or (by_context.get(key) if len(cont) == 1 else None)
        if row is None:
            row = Row(inp, need=start)
            rows.append(row)
            by_input[key] = row
            by_context.setdefault(tuple(inp[: start + 1]), row)
        row.need = min(row.need, start)
        row.targets.append(Target(i, start, tuple(cont)))
    return rows


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token sequences (0 for none)."""
    if not seqs:
        return 0
    # lexicographic extremes: their LCP is everyone's LCP (lists of ints compare element-wise)
    lo, hi = min(seqs), max(seqs)  # type: ignore[type-var]
    n = 0
    for a, b in zip(lo, hi):
        if a != b:
            break
        n += 1
    return n


def shared_prefix(rows: Sequence[Row]) -> int:
    """Tokens all rows share *and* whose outputs nobody reads (capped at the smallest `need`)."""
    return min(common_prefix_len([r.tokens for r in rows]), min(r.need for r in rows))


def prefix_groups(rows: Sequence[Row], min_gain: int = 256) -> list[tuple[int, list[Row]]]:
    """Partition rows into [(prefix_len, rows)] so each group's prefix is computed once.

    Usually one group: a call is one candidate prompt x many examples. If a call mixes prompts
    (--parallel-candidates: their shared prefix ends early), rows that branch at the same next
    token are split off into groups of their own wherever that saves >= min_gain token
    computations per extra group, looking below a branch too: three prompts that share only
    "Review:" still get a group each when each has a long prefix of its own.
    """
    assert min_gain > 0
    return _split(list(rows), min_gain)[0]


def _split(rows: list[Row], min_gain: int) -> tuple[list[tuple[int, list[Row]]], int]:
    """The best partition of `rows` found top-down, and its cost: tokens computed (each group's
    prefix once, every row's suffix) + min_gain per group. A branch is split off when its own
    best partition costs no more than leaving its rows here, as suffixes after this prefix."""
    p = shared_prefix(rows)
    children: dict[int | None, list[Row]] = defaultdict(list)
    for r in rows:  # branch on the first token after the shared prefix
        children[r.tokens[p] if r.need > p else None].append(r)
    rest = children.pop(None, [])
    out: list[tuple[int, list[Row]]] = []
    for child in children.values():
        if 1 < len(child) < len(rows):
            groups, cost = _split(child, min_gain)
            if cost <= sum(len(r.tokens) - p for r in child):
                out += groups
                continue
        rest += child
    if rest:
        out.append((shared_prefix(rest), rest))
    return out, sum(q + sum(len(r.tokens) - q for r in g) + min_gain for q, g in out)


def buckets(lengths: Sequence[int], batch_size: int, max_tokens: int, overhead: int = 64) -> list[list[int]]:
    """Cut items into batches: runs of the longest-first order (padding stays small, and an OOM
    shows up on the first batch), <= batch_size items and <= max_tokens padded tokens each.

    Where to cut is a small dynamic programme minimising padded tokens + `overhead` per batch:
    the fixed cost of a forward pass in token-equivalents (a few dozen on a CPU; ~1000 on a GPU,
    which wants big batches). SST-2 suffixes run 6-50 tokens: fixed batches of 32 would waste
    ~17% on padding, these waste ~5%.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    ls = [lengths[i] for i in order]
    n, inf = len(ls), float("inf")
    best, cut = [0.0] + [inf] * n, [0] * (n + 1)  # best[i]: cost of batching the first i items
    for i in range(1, n + 1):
        for j in range(i - 1, max(-1, i - 1 - batch_size), -1):  # last batch = items j..i-1
            if (i - j) * ls[j] > max_tokens and i - j > 1:
                break  # ls[j] only grows as j falls
            cost = best[j] + (i - j) * ls[j] + overhead
            if cost < best[i]:
                best[i], cut[i] = cost, j
    out, i = [], n
    while i > 0:
        out.append(order[cut[i]:i])
        i = cut[i]
    return out[::-1]


def pack(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Item indices packed into lanes of at most `capacity` tokens (best-fit decreasing: each item,
    longest first, goes to the fullest lane it still fits in).

    With capacity = the longest item, no lane is longer than the longest unpacked row would be
    (same peak memory per row), and SST-2's 6-50-token suffixes fill lanes ~98% instead of
    leaving ~8% padding in length-sorted batches. An item longer than capacity gets its own lane.
    """
    lanes: list[list[int]] = []
    free: list[tuple[int, int]] = []  # sorted (tokens left, lane)
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        k = bisect.bisect_left(free, (lengths[i], -1))  # the lane with the least room that fits
        if k == len(free):
            lane, left = len(lanes), capacity
            lanes.append([])
        else:
            left, lane = free.pop(k)
        lanes[lane].append(i)
        bisect.insort(free, (left - lengths[i], lane))
    return lanes
