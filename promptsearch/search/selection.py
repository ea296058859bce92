"""A selection split (`--select-fraction F`, `select_fraction=`): part of dev held out of the search.

The search's best dev score is the maximum over tens of candidates, so it is biased upwards (the
winner's curse): the pick's test score falls below it. With a selection split the trials are
scored on the rest of dev only; at the end of each run the top `select_top` candidates by dev are
re-scored once on the held-out examples (pick.py), and the pick (results.best) is the best of
them there, ties broken by dev score. Which examples are held out depends only on the dev set
(after --dev-limit), the fraction and the search's seed, so resume and workers hold out the same.
"""
from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from promptsearch.data.dataset import Example
from promptsearch.errors import ConfigError, excerpt

SELECTION_ATTR = "selection"  # study user attribute: the split, the re-scores and the pick


def check_fraction(value: Any, where: str = "--select-fraction") -> float | None:
    """None (no split), or a number strictly between 0 and 1."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{where} must be a number greater than 0 and less than 1 (the part of dev held out "
                          f"for the final pick), got {excerpt(value)}")
    return float(value)


def split_dev(dev: list[Example], fraction: float | None, seed: int) -> tuple[list[Example], list[Example]]:
    """(dev the search scores on, the selection split): round(fraction x |dev|) examples drawn by
    the seed, each side in dev's order. A one-line error when either side would be empty."""
    if fraction is None:
        return dev, []
    n = round(fraction * len(dev))
    if n < 1 or n >= len(dev):
        side = "no example held out" if n < 1 else "no dev example left to search on"
        raise ConfigError(f"--select-fraction {fraction:g} of {len(dev)} dev examples leaves {side}; the "
                          "selection split and the dev the search uses need at least 1 example each: "
                          "change the fraction or use more dev examples (--dev-limit)")
    order = list(range(len(dev)))
    random.Random(f"selection:{seed}").shuffle(order)
    held = set(order[:n])
    return [e for i, e in enumerate(dev) if i not in held], [e for i, e in enumerate(dev) if i in held]


def with_task_selection(settings: Any, task: Any) -> Any:
    """The search's settings with the task file's `selection:` block (fraction, top), unless
    --select-fraction / select_fraction= was given, which then decides both."""
    if settings.select_fraction is not None or not task.selection:
        return settings
    return replace(settings, select_fraction=task.selection["fraction"], select_top=task.selection["top"])


def stored_selection(study_attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The stored split and re-scores (pick.py writes them), or None for a search without one."""
    value = study_attrs.get(SELECTION_ATTR)
    return value if isinstance(value, dict) else None
