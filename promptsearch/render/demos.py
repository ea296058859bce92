"""Choosing demonstrations from the train pool: deterministic for a given (seed, size, method, draw)."""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

from promptsearch.data.dataset import Example


def select_demos(pool: Sequence[Example], k: int, selection: str, draw: int, seed: int,
                 output_field: str) -> list[Example]:
    """k demos; the same arguments always give the same demos in the same order.

    `stratified` cycles through the labels so each appears as evenly as k allows (for generation
    tasks, where every output differs, it degrades to random).
    """
    if k <= 0 or not pool:
        return []
    rng = random.Random(f"{seed}:{k}:{selection}:{draw}")
    if selection == "stratified":
        return _stratified(pool, k, rng, output_field)
    return rng.sample(list(pool), min(k, len(pool)))


def _stratified(pool: Sequence[Example], k: int, rng: random.Random, field: str) -> list[Example]:
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in pool:
        by_label[ex[field]].append(ex)
    labels = sorted(by_label)
    for label in labels:
        rng.shuffle(by_label[label])
    rng.shuffle(labels)
    picked: list[Example] = []
    round_ = 0
    while len(picked) < min(k, len(pool)):
        for label in labels:
            if round_ < len(by_label[label]) and len(picked) < k:
                picked.append(by_label[label][round_])
        round_ += 1
    rng.shuffle(picked)  # keep labels from always appearing in the same order
    return picked
