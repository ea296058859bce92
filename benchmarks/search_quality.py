"""Search quality at an equal budget: does proposal help, does TPE beat random, does any of it beat
the zero-shot prompt — on held-out test data, with 95% bootstrap confidence intervals.

    python benchmarks/search_quality.py                       # SST-2, TREC, the bundled tasks
    python benchmarks/search_quality.py --tasks sst2 --trials 10 --dev-limit 32 --test-limit 100
    python benchmarks/search_quality.py --json quality.json

Arms, each with the same trial budget and dev examples:
  (a) TPE + LLM proposal (induction, refinement, resampling by the same embedded model)
  (b) TPE over the seed instructions only
  (c) Optuna's RandomSampler over the same space
  (d) the zero-shot baseline: the space's first instruction, no demos, no trigger, plain layout
Public data is read from ../shared/datasets; nothing is copied into the project.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptsearch.config import SpaceSpec, TaskSpec, load_space, load_task  # noqa: E402
from promptsearch.config.propose import ProposeSpec  # noqa: E402
from promptsearch.data import load_split  # noqa: E402
from promptsearch.evaluate import Evaluator  # noqa: E402
from promptsearch.export.source import scored_template  # noqa: E402
from promptsearch.render import Candidate, render  # noqa: E402
from promptsearch.search import SearchSettings, create_search, run_search  # noqa: E402
from promptsearch.search.results import best  # noqa: E402
from promptsearch.storage import Store  # noqa: E402
from promptsearch.verdict.stats import bootstrap_ci  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"


def shared_task(name: str, inputs: list[str], labels: list[str]) -> TaskSpec:
    d = DATA / name
    return TaskSpec(name=name, train=str(d / "train.jsonl"), dev=str(d / "dev.jsonl"), test=str(d / "test.jsonl"),
                    inputs=tuple(inputs), output="label", metric="accuracy", labels=tuple(labels))


def tasks(wanted: list[str]) -> list[tuple[TaskSpec, SpaceSpec]]:
    default = load_space(ROOT / "search_spaces" / "default.yaml")
    extraction = load_space(ROOT / "search_spaces" / "extraction.yaml")
    known = {
        "sst2": lambda: (shared_task("sst2", ["sentence"], ["negative", "positive"]), default),
        "trec": lambda: (shared_task("trec", ["question"], ["abbreviation", "description", "entity", "human",
                                                             "location", "number"]), default),
        "review_sentiment": lambda: (load_task(ROOT / "examples" / "review_sentiment.yaml"), default),
        "city_extraction": lambda: (load_task(ROOT / "examples" / "city_extraction.yaml"), extraction),
    }
    out = []
    for name in wanted:
        if name in ("sst2", "trec") and not (DATA / name).is_dir():
            print(f"skipping {name}: {DATA / name} not found", file=sys.stderr)
            continue
        out.append(known[name]())
    return out


def test_scores(lm, store, task: TaskSpec, prompt, limit: int) -> list[float]:
    test = load_split(task, "test", limit)
    return [r.score for r in Evaluator(lm, task, store.evaluations).evaluate(prompt, test).results]


def run_arm(lm, store, task, space, arm, args) -> dict:
    from promptsearch.propose import LocalProposer, ProposalHook
    start = time.perf_counter()
    if arm == "zero-shot":
        prompt = render(Candidate(space.instructions[0], (), None, "plain"), task, lm.apply_chat_template)
        dev = load_split(task, "dev", args.dev_limit)
        dev_score = Evaluator(lm, task, store.evaluations).evaluate(prompt, dev).score
    else:
        settings = SearchSettings(seed=args.seed, dev_limit=args.dev_limit,
                                  sampler="random" if arm == "random" else "tpe")
        rec = create_search(store, f"{task.name}-{arm}", task, space, "smollm2", settings)
        hooks = []
        if arm == "tpe+propose":
            spec = ProposeSpec(every=max(3, args.trials // 5), rounds=4, n=4, draws=2)
            hooks = [ProposalHook(spec, LocalProposer(lm))]
        run_search(store, rec, lm, args.trials, hooks=hooks)
        top = best(store, rec)
        prompt = scored_template(rec, top.candidate)  # exactly the template that was scored
        dev_score = top.score
    search_s = time.perf_counter() - start
    ci = bootstrap_ci(test_scores(lm, store, task, prompt, args.test_limit), seed=0)
    return {"task": task.name, "arm": arm, "dev": dev_score, "test": ci.estimate, "test_low": ci.low,
            "test_high": ci.high, "search_seconds": round(search_s, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["sst2", "trec", "review_sentiment", "city_extraction"])
    p.add_argument("--arms", nargs="+", default=["tpe+propose", "tpe", "random", "zero-shot"])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--dev-limit", type=int, default=64)
    p.add_argument("--test-limit", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="smollm2")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="torch CPU threads")
    p.add_argument("--json", help="write the table as JSON")
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from promptsearch.lm import load_lm
    lm = load_lm(args.model)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task, space in tasks(args.tasks):
            for arm in args.arms:
                # A fresh database per arm: no arm is served from another's evaluation cache, so the
                # wall times compare like with like.
                store = Store(f"sqlite:///{tmp}/{task.name}-{arm}.db")
                row = run_arm(lm, store, task, space, arm, args)
                rows.append(row)
                print(f"{row['task']:<18} {row['arm']:<12} dev {row['dev']:.3f}  test {row['test']:.3f} "
                      f"[{row['test_low']:.3f}, {row['test_high']:.3f}]  {row['search_seconds']:>7.1f}s", flush=True)
    print(f"\nmodel {lm.name}; {args.trials} trials per search, dev-limit {args.dev_limit}, "
          f"test-limit {args.test_limit}, seed {args.seed}; 95% percentile bootstrap CIs (2000 resamples)")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
