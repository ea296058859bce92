"""The proposal screen's hit rate: how often would a screened-out proposal have beaten the ones it let through?

    python benchmarks/screening.py                                 # review_sentiment, SST-2, TREC
    python benchmarks/screening.py --tasks sst2 --trials 9 --dev-limit 40 --json screening.json

For each task, one real search runs with proposal (induction, refinement, resampling, reflection)
and the screen on (`screen: {examples, keep}`: APE's mean log-likelihood of train outputs). Every
proposal of every part (one method in one round) that passed the text checks -- kept or screened
out -- is then fully evaluated on the search's dev examples as the same candidate: the final best
trial's parameters with the instruction swapped in. So kept and screened-out proposals are compared
like with like, on exactly the data a trial would have used.

Printed per task and pooled:
  hit rate      screened-out proposals whose dev score beats every kept proposal of their part,
                over all screened-out proposals (lower is better: the screen threw away nothing better)
  random        the same rate if `keep` proposals per part had been chosen at random (exact expectation)
  parts missed  parts whose best proposal was screened out (strictly above every kept one)
  spearman      rank correlation of screen score and dev score, within parts, pooled
Public data is read from ../shared/datasets (or $PROMPTSEARCH_DATASETS); nothing is copied.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptsearch.config import SpaceSpec, TaskSpec, load_space, load_task  # noqa: E402
from promptsearch.config.propose import ProposeSpec, ScreenSpec  # noqa: E402
from promptsearch.data import load_split  # noqa: E402
from promptsearch.evaluate import Evaluator  # noqa: E402
from promptsearch.search import SearchSettings, new_search, run_trials  # noqa: E402
from promptsearch.search.bootstrap import DemoSource  # noqa: E402
from promptsearch.search.params import build_candidate  # noqa: E402
from promptsearch.search.results import best  # noqa: E402
from promptsearch.search.runner import decoding_for, render_candidate  # noqa: E402
from promptsearch.storage import Store  # noqa: E402


def datasets() -> Path:
    for d in (os.environ.get("PROMPTSEARCH_DATASETS"), ROOT.parent / "shared" / "datasets",
              ROOT.parent.parent / "shared" / "datasets"):
        if d and Path(d).is_dir():
            return Path(d)
    return ROOT.parent / "shared" / "datasets"


def shared_task(name: str, inputs: list[str], labels: list[str]) -> TaskSpec:
    d = datasets() / name
    return TaskSpec(name=name, train=str(d / "train.jsonl"), dev=str(d / "dev.jsonl"), test=str(d / "test.jsonl"),
                    inputs=tuple(inputs), output="label", metric="accuracy", labels=tuple(labels))


def task_of(name: str) -> TaskSpec | None:
    if name == "review_sentiment":
        return load_task(ROOT / "examples" / "review_sentiment.yaml")
    if name == "city_extraction":
        return load_task(ROOT / "examples" / "city_extraction.yaml")
    if not (datasets() / name).is_dir():
        print(f"skipping {name}: {datasets() / name} not found", file=sys.stderr)
        return None
    labels = {"sst2": ["negative", "positive"],
              "trec": ["abbreviation", "description", "entity", "human", "location", "number"]}[name]
    return shared_task(name, ["sentence" if name == "sst2" else "question"], labels)


def space_for(task: TaskSpec, args) -> SpaceSpec:
    base = load_space(ROOT / "search_spaces" / ("default.yaml" if task.labels else "extraction.yaml"))
    spec = ProposeSpec(methods=("induction", "refinement", "resampling", "reflection"), every=args.every,
                       rounds=args.rounds, n=4, draws=2, screen=ScreenSpec(args.screen_examples, args.keep))
    return replace(base, propose=spec.to_dict())


def dev_scores(lm, store, rec, task, space, settings, texts: list[str]) -> list[float]:
    """Each instruction in the final best trial's candidate, scored on the search's dev examples."""
    params = dict(best(store, rec).candidate.params)
    train, dev = load_split(task, "train"), load_split(task, "dev", settings.dev_limit)
    evaluator = Evaluator(lm, task, store.evaluations, decoding_for(settings))
    demos = DemoSource(store, rec.id, lm, task, space, train, evaluator)
    out = []
    for text in texts:
        candidate = build_candidate(dict(params, instruction=0), space, task, train, [text], demos)
        out.append(evaluator.evaluate(render_candidate(candidate, task, lm), dev).score)
    return out


def part_stats(kept: list[float], out: list[float], keep: int) -> dict:
    """Hits among the screened out, and the exact expectation under a random choice of `keep`."""
    hits = sum(s > max(kept) for s in out) if kept else 0
    scores = kept + out
    combos = list(itertools.combinations(range(len(scores)), min(keep, len(scores))))
    rand = 0.0
    for chosen in combos:
        top = max(scores[i] for i in chosen)
        rand += sum(scores[i] > top for i in range(len(scores)) if i not in chosen)
    return {"hits": hits, "random_hits": rand / len(combos), "out": len(out),
            "missed": bool(out) and max(out) > max(kept)}


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    r = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(pairs: list[tuple[list[float], list[float]]]) -> float | None:
    """Pearson correlation of within-part ranks, pooled over parts."""
    xs, ys = [], []
    for a, b in pairs:
        if len(a) > 1:
            xs += [v - (len(a) - 1) / 2 for v in ranks(a)]
            ys += [v - (len(b) - 1) / 2 for v in ranks(b)]
    sxy, sxx, syy = sum(x * y for x, y in zip(xs, ys)), sum(x * x for x in xs), sum(y * y for y in ys)
    return sxy / (sxx * syy) ** 0.5 if sxx and syy else None


def run_task(lm, tmp: str, task: TaskSpec, args) -> dict:
    space = space_for(task, args)
    store = Store(f"sqlite:///{tmp}/{task.name}.db")
    settings = SearchSettings(seed=args.seed, dev_limit=args.dev_limit)
    rec = new_search(store, task.name, task, space, "smollm2", settings)
    run_trials(store, rec, lm, args.trials)
    rows = [r for r in store.proposals.all(rec.id) if r.screen_score is not None]
    scores = dev_scores(lm, store, rec, task, space, settings, [r.text for r in rows])
    parts: dict[tuple[int, str], list] = {}
    for r, s in zip(rows, scores):
        parts.setdefault((r.round, r.method), []).append((r, s))
    stats, pairs = [], []
    for (rnd, method), items in sorted(parts.items()):
        kept = [s for r, s in items if r.accepted]
        out = [s for r, s in items if not r.accepted]
        stats.append({"round": rnd, "method": method, **part_stats(kept, out, args.keep)})
        pairs.append(([r.screen_score for r, _ in items], [s for _, s in items]))
    return {"task": task.name, "parts": stats, "spearman": spearman(pairs), "pairs": pairs,
            "proposals": len(rows)}


def summary(name: str, parts: list[dict], rho: float | None) -> str:
    out = sum(p["out"] for p in parts)
    hits, rand = sum(p["hits"] for p in parts), sum(p["random_hits"] for p in parts)
    missed = sum(p["missed"] for p in parts)
    rate = f"{hits}/{out} = {hits / out:.2f}" if out else "0/0"
    rrate = f"{rand / out:.2f}" if out else "-"
    rho_s = f"{rho:+.2f}" if rho is not None else "-"
    return (f"{name:<18} hit rate {rate:<12} random {rrate:<6} parts missed {missed}/{len(parts)}  "
            f"spearman {rho_s}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["review_sentiment", "sst2", "trec"])
    p.add_argument("--trials", type=int, default=9)
    p.add_argument("--every", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--keep", type=int, default=2)
    p.add_argument("--screen-examples", type=int, default=8)
    p.add_argument("--dev-limit", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="smollm2")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="torch CPU threads")
    p.add_argument("--json", help="write the per-part numbers as JSON")
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from promptsearch.lm import load_lm
    lm = load_lm(args.model)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks:
            task = task_of(name)
            if task is not None:
                results.append(run_task(lm, tmp, task, args))
                print(summary(name, results[-1]["parts"], results[-1]["spearman"]), flush=True)
    every = [p for r in results for p in r["parts"]]
    print(summary("pooled", every, spearman([pair for r in results for pair in r["pairs"]])))
    print(f"\nmodel {lm.name}; {args.trials} trials, screen {{examples: {args.screen_examples}, keep: {args.keep}}}, "
          f"dev-limit {args.dev_limit}, seed {args.seed}; a hit: a screened-out proposal scoring above every kept "
          f"one of its part, all as the final best trial's candidate on dev")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
