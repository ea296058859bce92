"""Choosing demonstrations from the train pool: deterministic for a given (seed, size, method, draw).

`random` and `stratified` pick one demo set for every input; `nearest` picks, for each input, the
pool examples most similar to it (cosine similarity of embeddings computed by the caller). The
selection names a space may use are checked by config/space.py.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from promptsearch.data.dataset import Example

RATIONALE = "__rationale__"  # the key a demo's rationale has in Example.fields (and stored demos)


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


def nearest_indices(pool_vectors: np.ndarray, query: np.ndarray, k: int, order: str = "drawn",
                    exclude: Sequence[int] = ()) -> list[int]:
    """Indices of the k pool rows most similar to `query` (rows and query unit-normalised, so
    the dot product is the cosine). Ties go to the earlier row; `exclude` rows (the input itself
    when it is also in the pool) are never picked. `similar_last` puts the closest one last,
    right before the input, where it has the most influence (Liu et al., 2022)."""
    if k <= 0 or len(pool_vectors) == 0:
        return []
    sims = pool_vectors @ query  # [n_pool]
    banned = set(exclude)
    ranked = [i for i in np.lexsort((np.arange(len(sims)), -sims)) if i not in banned][:k]
    ranked = [int(i) for i in ranked]
    return ranked[::-1] if order == "similar_last" else ranked
