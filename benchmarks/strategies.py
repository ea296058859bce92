"""Reasoning strategies at a fixed small budget: dev and test accuracy of each, and of the best
prompt a short search over search_spaces/reasoning.yaml finds.

    python benchmarks/strategies.py                           # embedded SmolLM2-135M, CPU (~15 min on 2 busy cores)
    python benchmarks/strategies.py --examples 20 --trials 8 --json out.json
    python benchmarks/strategies.py --model /path/to/checkpoint --device cuda --examples 200 --max-tokens 256

Tasks: GSM8K (with its worked solutions as rationales), SVAMP, BIG-Bench Hard boolean_expressions
and sports_understanding (read from ../shared/datasets, never copied), and the bundled generation
task examples/city_extraction.yaml. Each strategy is one fixed candidate (the space's first
instruction; Kojima et al.'s trigger for the reasoning ones; 2 random rationale demos for
few-shot CoT, from the data or bootstrapped). Dev and test are the first --examples examples of
each split; the search scores on the same dev examples and its best candidate is then scored on
test. Everything goes through the project's evaluator and cache (one SQLite file under --workdir),
so re-running with the same settings is nearly free; delete the folder to measure again.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptsearch.config import load_space, load_task  # noqa: E402
from promptsearch.data import load_split  # noqa: E402
from promptsearch.evaluate import Evaluator  # noqa: E402
from promptsearch.search import SearchSettings, new_search, run_trials  # noqa: E402
from promptsearch.search.bootstrap import DemoSource  # noqa: E402
from promptsearch.search.params import build_candidate  # noqa: E402
from promptsearch.search.rebuild import rebuild_prompt  # noqa: E402
from promptsearch.search.results import best  # noqa: E402
from promptsearch.search.runner import render_candidate  # noqa: E402
from promptsearch.storage import Store  # noqa: E402
from promptsearch.strategies import STRATEGIES, Decoding  # noqa: E402

KOJIMA = "Let's think step by step."
DATA = ROOT.parent / "shared" / "datasets"
TASKS = {  # name: (folder under the datasets, task YAML body)
    "gsm8k": ("gsm8k", "inputs: [question]\noutput: answer\nmetric: numeric\nrationale: rationale\n"),
    "svamp": ("svamp", "inputs: [question]\noutput: answer\nmetric: numeric\n"),
    "boolean_expressions": ("bbh/boolean_expressions",
                            "inputs: [input]\noutput: target\nmetric: accuracy\nlabels: ['True', 'False']\n"),
    "sports_understanding": ("bbh/sports_understanding",
                             "inputs: [input]\noutput: target\nmetric: accuracy\nlabels: ['yes', 'no']\n"),
    "city_extraction": (None, None),  # the bundled examples/city_extraction.yaml
}
STRATEGY_ROWS = ("direct", "zero_shot_cot", "few_shot_cot", "self_consistency", "least_to_most")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=4, help="dev and test examples per task (default 4)")
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of: " + ", ".join(TASKS))
    ap.add_argument("--max-tokens", type=int, default=32, help="reasoning tokens per path (default 32)")
    ap.add_argument("--samples", type=int, default=3, help="self-consistency paths (default 3)")
    ap.add_argument("--subquestions", type=int, default=2, help="least-to-most sub-questions (default 2)")
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--trials", type=int, default=3, help="search trials per task (default 3; 0 = no search)")
    ap.add_argument("--max-demos", type=int, default=2,
                    help="the search's demo counts are the space's up to this (default 2)")
    ap.add_argument("--bootstrap-tries", type=int, default=6, help="train examples tried for bootstrapped demos")
    ap.add_argument("--space", default=str(ROOT / "search_spaces" / "reasoning.yaml"))
    ap.add_argument("--data", default=str(DATA), help="the shared datasets folder")
    ap.add_argument("--model", default=None, help="load_lm spec (default: embedded SmolLM2-135M-Instruct)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads (default: 1 when the CPU is busier than its cores, else all)")
    ap.add_argument("--workdir", default=None, help="keep the database and task files here (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("-v", "--verbose", action="store_true")
    return ap.parse_args(argv)


def task_file(name: str, data: Path, workdir: Path) -> Path:
    folder, body = TASKS[name]
    if folder is None:
        return ROOT / "examples" / "city_extraction.yaml"
    d = data / folder
    path = workdir / f"{name}.yaml"
    path.write_text(f"name: {name}\ntrain: {d / 'train.jsonl'}\ndev: {d / 'dev.jsonl'}\ntest: {d / 'test.jsonl'}\n"
                    + body)
    return path


def fixed_params(name: str, args) -> dict:
    """The one candidate that stands for a strategy in the table."""
    p = {"instruction": 0, "n_demos": 0, "cot_trigger": "none", "template": "plain"}
    if name == "direct":
        return {**p, "strategy": "direct"}
    # each strategy reads the settings it has from these parameters
    strategy = STRATEGIES.get(name).from_params({"max_reasoning_tokens": args.max_tokens, "sc_samples": args.samples,
                                                 "sc_temperature": args.temperature,
                                                 "max_subquestions": args.subquestions})
    p.update(strategy.to_params())
    if name != "least_to_most":
        p["cot_trigger"] = KOJIMA
    if name == "few_shot_cot":
        p.update(n_demos=2, demo_selection="random", demo_draw=0)
    return p


def bench_task(name: str, args, lm, store: Store, space, workdir: Path) -> list[dict]:
    task = load_task(task_file(name, Path(args.data), workdir))
    dev, test = load_split(task, "dev", args.examples), load_split(task, "test", args.examples)
    train = load_split(task, "train")
    evaluator = Evaluator(lm, task, store.evaluations, Decoding())
    demos = DemoSource(store, None, lm, task, space, train, evaluator)
    rows = []
    for strategy in STRATEGY_ROWS:
        start = time.perf_counter()
        candidate = build_candidate(fixed_params(strategy, args), space, task, train, space.instructions, demos)
        prompt = render_candidate(candidate, task, lm)
        ev = evaluator.evaluate(prompt, dev + test)  # one call: the backend batches both splits
        d, t = mean(ev.results[:len(dev)]), mean(ev.results[len(dev):])
        rows.append({"task": name, "row": strategy, "dev": d, "test": t,
                     "seconds": time.perf_counter() - start, "demos": len(candidate.demos),
                     "examples_computed": ev.computed})
        log.info("%s %s: dev %.3f test %.3f (%.0fs)", name, strategy, d, t, rows[-1]["seconds"])
    if args.trials > 0:
        rows.append(search_row(name, task, args, lm, store, space, test))
    return rows


def mean(results) -> float:
    return sum(r.score for r in results) / len(results) if results else 0.0


def search_row(name, task, args, lm, store, space, test) -> dict:
    start = time.perf_counter()
    search = f"{name}-{int(time.time())}"
    rec = new_search(store, search, task, space, lm.name, SearchSettings(dev_limit=args.examples, seed=0))
    run_trials(store, rec, lm, args.trials)
    top = best(store, rec)
    prompt = rebuild_prompt(rec, top.candidate, lm=lm, store=store)
    t = Evaluator(lm, task, store.evaluations, Decoding()).evaluate(prompt, test)
    p = top.candidate.params
    what = p["strategy"] + (f", {p['n_demos']} demos" if p.get("n_demos") else "") + \
        (f", trigger '{p['cot_trigger']}'" if p.get("cot_trigger", "none") != "none" else "")
    return {"task": name, "row": "search best", "dev": top.score, "test": t.score,
            "seconds": time.perf_counter() - start, "best": what, "trials": args.trials,
            "instruction": top.candidate.instruction, "params": p}


def table(rows: list[dict]) -> str:
    lines = ["| task | strategy | dev | test | seconds |", "|---|---|---:|---:|---:|"]
    for r in rows:
        label = r["row"] if r["row"] != "search best" else f"search best ({r['best']})"
        lines.append(f"| {r['task']} | {label} | {r['dev']:.3f} | {r['test']:.3f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def set_threads(n: int) -> int:
    import torch

    if n <= 0:  # spinning OpenMP threads on an oversubscribed CPU are far slower than one thread
        cores = os.cpu_count() or 1
        n = 1 if os.getloadavg()[0] > cores else cores
    torch.set_num_threads(n)
    return n


log = logging.getLogger("benchmarks.strategies")


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    threads = set_threads(args.threads)
    from promptsearch.lm import load_lm

    lm = load_lm(args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    space = load_space(args.space)
    space = replace(space, demo_counts=tuple(c for c in space.demo_counts if c <= args.max_demos) or (0,),
                    max_reasoning_tokens=args.max_tokens, sc_samples=(args.samples,),
                    sc_temperatures=(args.temperature,), bootstrap_tries=args.bootstrap_tries,
                    max_subquestions=args.subquestions)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        print(f"--tasks: unknown {', '.join(unknown)}; known: {', '.join(TASKS)}", file=sys.stderr)
        return 2
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ps-strategies-"))
    workdir.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{workdir / 'bench.db'}")
    start, rows = time.perf_counter(), []
    for name in names:
        rows += bench_task(name, args, lm, store, space, workdir)
    total = time.perf_counter() - start
    print(f"model {lm.name}, {args.examples} dev + {args.examples} test examples per task, "
          f"{args.max_tokens} reasoning tokens, self-consistency n={args.samples} T={args.temperature}, "
          f"search {args.trials} trials over {Path(args.space).name}, {threads} CPU thread(s), {total:.0f}s total")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": lm.name, "settings": vars(args), "threads": threads,
                                               "seconds": total, "rows": rows}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
