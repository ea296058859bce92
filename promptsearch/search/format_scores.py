"""Score by format choice: for each format dimension of a search and each of its choices, the best
and mean dev score of the completed trials that used it, and how many did.

Read from the database (the candidates' stored parameters, render/format.py's FORMAT_KEYS), so it
needs no model; `show`, `report` and `ps.score_by_format` all use it. A search whose space had no
`formats` block has no rows. Trials count, not distinct candidates: the table answers "what did
the search spend on this choice, and what did it get".
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

from promptsearch.render.format import FORMAT_KEYS
from promptsearch.search.results import completed_trials
from promptsearch.storage.store import SearchRecord, Store, trial_score

TITLES = {"format_names": "field names", "format_separator": "separator", "format_casing": "casing",
          "format_spacing": "spacing", "format_answer": "answer prefix"}


@dataclass(frozen=True)
class FormatScore:
    dimension: str  # "separator", ...
    choice: str  # as shown: separators quoted so their whitespace is visible
    best: float
    mean: float
    trials: int


def score_by_format(store: Store, record: SearchRecord) -> list[FormatScore]:
    """Rows in dimension order, then best mean first; empty when the search searched no format."""
    if not record.space.get("formats"):
        return []
    params = {r.prompt_hash: r.params or {} for r in store.candidates.of_search(record.id)}
    groups: dict[str, dict[str, list[float]]] = {key: {} for key in FORMAT_KEYS}
    for t in completed_trials(store, record):
        p = params.get(t.user_attrs.get("prompt_hash", ""))
        if p is None:
            continue
        for key, default in FORMAT_KEYS.items():
            groups[key].setdefault(shown(key, p.get(key, default)), []).append(trial_score(t))
    rows = []
    for key, by_choice in groups.items():
        ordered = sorted(by_choice.items(), key=lambda kv: (-mean(kv[1]), kv[0]))
        rows += [FormatScore(TITLES[key], choice, max(s), mean(s), len(s)) for choice, s in ordered]
    return rows


def shown(key: str, value: object) -> str:
    if key == "format_answer" and value is None:
        return "(the strategy's own)"
    if key == "format_separator":
        return repr(value)
    return str(value)
