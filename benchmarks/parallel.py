"""Several candidates per batch: the same seeded search with --parallel-candidates 1, 4 and 8.

    python benchmarks/parallel.py --threads 1             # review task, 8 trials x 16 dev examples, CPU
    python benchmarks/parallel.py --ks 1 8 --trials 30 --repeats 1 --device cuda --json p.json

One process, one loaded model. Every arm runs the same search (random sampler, same seed: the same
trials with the same points, checked below) in a fresh database, so no arm is served from another's
evaluation cache; the arms are interleaved repeat by repeat so that drift on a shared machine hits
them alike. Printed: median seconds per arm, the ratio to k = 1 (> 1: faster than k = 1), and the
engine's work per arm (forward passes, lanes, prefix runs: HFLM.stats) to see where time goes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from promptsearch.config import load_space, load_task  # noqa: E402
from promptsearch.lm import load_lm  # noqa: E402
from promptsearch.search import SearchSettings, new_search, run_trials  # noqa: E402
from promptsearch.storage import Store  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default=str(ROOT / "examples" / "review_sentiment.yaml"))
    ap.add_argument("--space", default=str(ROOT / "benchmarks" / "parallel_space.yaml"),
                    help="search space (default: 3 instructions x 0-2 demos x plain/chat)")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default=None, help="fp32 / bf16 (default fp32 on cpu, bf16 on cuda)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8], help="--parallel-candidates values")
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--dev-limit", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="runs per arm (median)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--json", default=None, help="write the numbers here")
    return ap.parse_args(argv)


def run_arm(lm, task, space, k: int, args) -> tuple[float, list, Counter]:
    """One search with --parallel-candidates k: its wall seconds, its trials (number, params,
    value) and the engine's work counters."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/p.db")
        settings = SearchSettings(seed=args.seed, dev_limit=args.dev_limit, sampler="random",
                                  batch_size=args.batch_size, parallel_candidates=k)
        rec = new_search(store, f"parallel-{k}", task, space, args.model, settings)
        before = Counter(getattr(lm, "stats", {}))
        start = time.perf_counter()
        run_trials(store, rec, lm, args.trials)
        wall = time.perf_counter() - start
        work = Counter(getattr(lm, "stats", {}))
        work.subtract(before)
        trials = [(t.number, t.params, t.value) for t in store.load_study(rec).get_trials(deepcopy=False)]
        store.engine.dispose()
    return wall, trials, work


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    lm = load_lm(args.model, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
    task, space = load_task(args.task), load_space(args.space)
    run_arm(lm, task, space, 1, argparse.Namespace(**{**vars(args), "trials": 1}))  # warm-up, untimed
    seconds: dict[int, list[float]] = {k: [] for k in args.ks}
    trials: dict[int, list] = {}
    work: dict[int, Counter] = {}
    for rep in range(args.repeats):
        for k in args.ks:
            wall, trials[k], work[k] = run_arm(lm, task, space, k, args)
            seconds[k].append(wall)
            print(f"repeat {rep + 1}/{args.repeats}: k={k} {wall:.1f}s", file=sys.stderr, flush=True)
    base = statistics.median(seconds[args.ks[0]])
    rows = []
    print(f"\n{args.trials} trials x {args.dev_limit} dev examples, {task.name}, {args.model} on {args.device}, "
          f"random sampler seed {args.seed}, median of {args.repeats}")
    print(f"{'k':>3} {'seconds':>8} {'ratio':>6} {'same trials':>11} {'forwards':>8} {'lanes':>6} "
          f"{'prefixes':>8}  runs")
    for k in args.ks:
        med = statistics.median(seconds[k])
        same = trials[k] == trials[args.ks[0]]
        rows.append({"k": k, "seconds": round(med, 2), "ratio": round(base / med, 3), "same_trials": same,
                     "runs": [round(s, 2) for s in seconds[k]], "forwards": work[k]["batches"],
                     "lanes": work[k]["lanes"], "prefixes": work[k]["prefixes"]})
        print(f"{k:>3} {med:>8.1f} {base / med:>6.2f} {'yes' if same else 'NO':>11} {work[k]['batches']:>8} "
              f"{work[k]['lanes']:>6} {work[k]['prefixes']:>8}  {', '.join(f'{s:.1f}' for s in seconds[k])}")
    print(f"ratio = seconds(k={args.ks[0]}) / seconds(k): above 1 is faster than k={args.ks[0]}")
    out = {"args": vars(args), "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
