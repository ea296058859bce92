"""Which candidate a search with a selection split should return (issue 24, item 2): for the
top-k candidates by dev that were re-scored on the held-out split, the test score of the one each
rule picks --

    dev        the best dev score (what a search without a split returns)
    selection  the best held-out score, ties to dev (what promptsearch returned before issue 24's
               measurement)
    pooled     the best score over dev and the held-out examples together (what search/pick.py
               returns now; from the stored pooled scores, else dev and held-out weighted by size)

Each pick is judged by `promptsearch.evaluate_heldout` on the same test examples as every arm
(the candidate exported as prompt JSON and scored as the verdict's baseline; the evaluation cache
makes repeats free)."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import promptsearch as ps
from promptsearch.export import EXPORTERS
from promptsearch.search.results import leaderboard

RULES = ("dev", "selection", "pooled")


def rule_picks(selection: dict[str, Any]) -> dict[str, int]:
    """rule -> the trial it picks among the re-scored candidates."""
    scores, n_dev, n_sel = selection["scores"], selection["dev_examples"], selection["examples"]

    def pooled(s: dict[str, Any]) -> float:
        return s["pooled"] if "pooled" in s else (s["dev"] * n_dev + s["selection"] * n_sel) / (n_dev + n_sel)
    return {"dev": max(scores, key=lambda s: (s["dev"], -s["trial"]))["trial"],
            "selection": max(scores, key=lambda s: (s["selection"], s["dev"], -s["trial"]))["trial"],
            "pooled": max(scores, key=lambda s: (pooled(s), s["dev"], -s["trial"]))["trial"]}


def pick_rule_fields(store: ps.Store, record: ps.SearchRecord, lm: Any, *, limit: int | None,
                     seed: int) -> dict[str, Any]:
    """`pick_<rule>_trial` and `pick_<rule>_test` for every rule; {} for a search without re-scores."""
    selection = ps.selection(store, record)
    if not selection or not selection.get("scores"):
        return {}
    entries = {e.trial: e for e in leaderboard(store, record, None)}
    out: dict[str, Any] = {}
    tested: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rule, trial in rule_picks(selection).items():
            if trial not in tested:
                path = Path(tmp) / f"trial-{trial}.json"
                path.write_text(EXPORTERS.get("json", "export")(store, record, entries[trial]))
                verdict = ps.evaluate_heldout(store, record, split="test", baseline=str(path), limit=limit, lm=lm,
                                              save=False, seed=seed)
                tested[trial] = verdict.baseline.score.estimate
            out[f"pick_{rule}_trial"], out[f"pick_{rule}_test"] = trial, tested[trial]
    return out


def pick_rule_summary(rows: list[dict[str, Any]]) -> str:
    """Mean test score of each rule's pick over the runs that had a selection split."""
    runs = [r for r in rows if "pick_selection_test" in r]
    if not runs:
        return ""
    means = {rule: sum(r[f"pick_{rule}_test"] for r in runs) / len(runs) for rule in RULES}
    differ = {rule: sum(r[f"pick_{rule}_trial"] != r["pick_pooled_trial"] for r in runs)
              for rule in ("dev", "selection")}
    return (f"pick rules over {len(runs)} searches with a selection split (mean test score of the pick): "
            + ", ".join(f"{rule} {means[rule]:.3f}" for rule in RULES)
            + f"; dev picked another trial than pooled in {differ['dev']}, selection in {differ['selection']}")
