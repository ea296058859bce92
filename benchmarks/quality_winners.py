"""What benchmarks/search_quality.py says about each winner and each task: where the winning
instruction came from, which format it was scored in, how much the format alone moves its test
score (the format spread), whether the new arm met issue 14's target, and the winner's curse per
arm (the mean dev - test of the pick and of the start prompt over tasks).

Format dimensions are found in the winning trial itself: Optuna parameters whose name starts with
FORMAT_PREFIX (how the `formats` block of a space is sampled; --format-prefix changes it). The
spread re-renders the winning candidate with each format choice — same instruction, same demos —
and scores every variant on the same test examples. A search without format parameters (a
promptsearch without the feature, or a space without the block) has no spread: n/a, with why.
"""
from __future__ import annotations

import itertools
import random
from typing import Any

from promptsearch.search.results import Entry, proposal_lineage
from promptsearch.storage import SearchRecord, Store
from promptsearch.verdict.stats import paired_test

FORMAT_PREFIX = "format"
ALPHA = 0.05


def provenance(store: Store, record: SearchRecord, entry: Entry) -> str:
    """'seed 2' (the space's third instruction), 'proposal: refinement, round 1', or 'unknown'."""
    text = entry.candidate.instruction
    seeds = list(record.space.get("instructions") or [])
    if text in seeds:
        return f"seed {seeds.index(text)}"
    for p in proposal_lineage(store, record):
        if p["accepted"] and p["text"] == text:
            return f"proposal: {p['method']}, round {p['round']}"
    return "unknown"


def _trial(store: Store, record: SearchRecord, number: int):
    return next(t for t in store.load_study(record).get_trials(deepcopy=False) if t.number == number)


def format_dims(store: Store, record: SearchRecord, entry: Entry, prefix: str = FORMAT_PREFIX) -> dict[str, list]:
    """{format parameter: its choices} as the winning trial sampled them (empty: no formats)."""
    dists = _trial(store, record, entry.trial).distributions
    return {name: list(d.choices) for name, d in dists.items()
            if name.startswith(prefix) and hasattr(d, "choices")}


def format_choice(store: Store, record: SearchRecord, entry: Entry, prefix: str = FORMAT_PREFIX) -> str:
    """The winner's format as 'name=value, ...', or 'default (fixed)' when formats were not searched."""
    params = entry.candidate.params or {}
    chosen = {k: v for k, v in params.items() if k.startswith(prefix)}
    if not chosen:
        return "default (fixed)"
    return shown(chosen, prefix)


def shown(fmt: dict[str, Any], prefix: str = FORMAT_PREFIX) -> str:
    """{'format_separator': ' - ', ...} as "separator=' - ', ..." (parameter order kept)."""
    return ", ".join(f"{k[len(prefix):].lstrip('_') or k}={v!r}" for k, v in fmt.items())


def variants(dims: dict[str, list], own: dict[str, Any], most: int, seed: int) -> list[dict[str, Any]]:
    """Every combination of format choices, or (more than `most`) a seeded sample of `most`
    that always includes the winner's own."""
    combos = [dict(zip(dims, values)) for values in itertools.product(*dims.values())]
    if len(combos) <= most:
        return combos
    others = [c for c in combos if c != own]
    return [own, *random.Random(f"spread:{seed}").sample(others, most - 1)]


def format_spread(store: Store, record: SearchRecord, entry: Entry, lm, *, limit: int | None, most: int,
                  seed: int, prefix: str = FORMAT_PREFIX) -> dict[str, Any]:
    """Test score of the winner under each format choice: {"spread", "best", "worst", "scores"},
    or {"spread": None, "why": ...}."""
    dims = format_dims(store, record, entry, prefix)
    if not dims:
        return {"spread": None, "why": "formats not searched: the search has no format dimensions"}
    from promptsearch.data.dataset import load_split
    from promptsearch.evaluate.evaluator import Evaluator
    from promptsearch.search.params import build_candidate
    from promptsearch.search.runner import decoding_for, open_parts, render_candidate

    row = entry.candidate
    task, space, settings = open_parts(record)
    train, test = load_split(task, "train"), load_split(task, "test", limit)
    evaluator = Evaluator(lm, task, store.evaluations, decoding_for(settings))
    own = {k: (row.params or {}).get(k) for k in dims}
    scores: list[dict[str, Any]] = []  # {"format": {param: choice}, "test": score}
    for combo in variants(dims, own, most, seed):
        params = {**(row.params or {}), **combo, "instruction": 0}
        params.pop("format_custom_names", None)  # the names of field_names 'task', stored only with it
        if params.get("format_names") == "task":
            params["format_custom_names"] = dict((record.space.get("formats") or {}).get("names") or {})
        prompt = render_candidate(build_candidate(params, space, task, train, [row.instruction]), task, lm)
        if combo == own and prompt.hash != row.prompt_hash:
            return {"spread": None, "why": "re-rendering the winner with its own format did not reproduce "
                                           "the scored prompt; cannot vary the format alone"}
        scores.append({"format": combo, "test": evaluator.evaluate(prompt, test).score})
    best, worst = max(scores, key=lambda s: s["test"]), min(scores, key=lambda s: s["test"])
    return {"spread": best["test"] - worst["test"], "best": best, "worst": worst, "scores": scores,
            "examples": len(test)}


def target_verdict(rows: list[dict[str, Any]], new: str = "new", hand: str = "hand") -> dict[str, Any]:
    """Issue 14's target: the new arm best or tied-best on test on at least 3 of 4 tasks (75%),
    and never below the hand prompt. Tied-best: no other arm is better by a paired test (the
    verdict code's exact McNemar / Wilcoxon) at p < 0.05; below: a lower test estimate."""
    tasks: dict[str, dict[str, dict]] = {}
    for r in rows:
        tasks.setdefault(r["task"], {})[r["arm"]] = r
    per_task = []
    for task, arms in tasks.items():
        if new not in arms or len(arms) < 2:
            continue
        n = arms[new]
        others = [a for name, a in arms.items() if name != new]
        top = max(others, key=lambda a: a["test"])
        _, p = paired_test(top["test_scores"], n["test_scores"])
        below = hand in arms and n["test"] < arms[hand]["test"]
        per_task.append({"task": task, "best": n["test"] >= top["test"], "best_other": top["arm"],
                         "tied": n["test"] >= top["test"] or p >= ALPHA, "p_vs_best_other": p,
                         "below_hand": below, "below_hand_significant":
                         below and paired_test(arms[hand]["test_scores"], n["test_scores"])[1] < ALPHA})
    k = sum(t["tied"] for t in per_task)
    needed = -(-3 * len(per_task) // 4)  # 3 of 4, as a share: ceil(0.75 N)
    below = [t["task"] for t in per_task if t["below_hand"]]
    return {"tasks": per_task, "best_or_tied": k, "strictly_best": sum(t["best"] for t in per_task),
            "needed": needed, "below_hand": below, "met": bool(per_task) and k >= needed and not below}


def verdict_line(v: dict[str, Any], degraded: bool) -> str:
    if not v["tasks"]:
        return "TARGET not evaluated: the new arm or its competitors did not run"
    n = len(v["tasks"])
    line = (f"TARGET {'MET' if v['met'] else 'NOT MET'}: new arm best or tied-best on test on "
            f"{v['best_or_tied']} of {n} tasks (strictly best on {v['strictly_best']}; needed {v['needed']}), "
            + (f"below the hand prompt on {', '.join(v['below_hand'])}" if v["below_hand"]
               else "never below the hand prompt"))
    if degraded:
        line += " — the new arm ran DEGRADED (see above): this is not the issue's new arm yet"
    return line


def num(value: float | None, sign: str = "") -> str:
    return "n/a" if value is None else f"{value:{sign}.3f}"


def gap_summary(rows: list[dict]) -> list[dict]:
    """Per arm, over tasks: the mean (dev - test) of the pick and of the start prompt, the mean test
    score of each, and on how many tasks the start prompt scored above the pick on test."""
    out = []
    for arm in dict.fromkeys(r["arm"] for r in rows):
        rs = [r for r in rows if r["arm"] == arm]
        starts = [r["start_gap"] for r in rs if r.get("start_gap") is not None]
        tests = [r for r in rs if r.get("start_test") is not None]
        out.append({"arm": arm, "tasks": len(rs), "mean_gap": sum(r["gap"] for r in rs) / len(rs),
                    "max_gap": max(r["gap"] for r in rs), "mean_test": sum(r["test"] for r in rs) / len(rs),
                    "mean_start_gap": sum(starts) / len(starts) if starts else None,
                    "mean_start_test": sum(r["start_test"] for r in tests) / len(tests) if tests else None,
                    "start_above_pick": sum(r["start_test"] > r["test"] for r in tests)})
    return out


def gap_table(rows: list[dict]) -> str:
    lines = ["| arm | tasks | mean test | mean dev − test | max dev − test | start: mean test | "
             "start: mean dev − test | tasks where the start beat the pick on test |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g in gap_summary(rows):
        lines.append(f"| {g['arm']} | {g['tasks']} | {g['mean_test']:.3f} | {g['mean_gap']:+.3f} | "
                     f"{g['max_gap']:+.3f} | {num(g['mean_start_test'])} | {num(g['mean_start_gap'], '+')} | "
                     f"{g['start_above_pick']} |")
    return "\n".join(lines)
