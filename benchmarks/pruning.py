"""Multi-fidelity pruning: the same seeded search with and without a pruner, wall time and best score.

    python benchmarks/pruning.py                      # SST-2 dev (872 examples), 20 trials
    python benchmarks/pruning.py --trials 20 --dev-limit 400 --pruners none halving
    python benchmarks/pruning.py --json pruning.json

Each arm gets its own fresh database, so no arm is served from another's evaluation cache. With
a pruner the dev set is scored in chunks (`--chunk-size`) in one seeded order, and Optuna stops a
candidate once it is clearly losing; its partial score is stored with the pruned trial.
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

from promptsearch.config import TaskSpec, load_space, load_task  # noqa: E402
from promptsearch.search import SearchSettings, new_search, run_trials  # noqa: E402
from promptsearch.search.results import best, trial_counts  # noqa: E402
from promptsearch.storage import Store  # noqa: E402

SST2 = ROOT.parent / "shared" / "datasets" / "sst2"


def sst2_task() -> TaskSpec:
    if not SST2.is_dir():
        print(f"{SST2} not found: using the bundled review_sentiment task", file=sys.stderr)
        return load_task(ROOT / "examples" / "review_sentiment.yaml")
    return TaskSpec(name="sst2", train=str(SST2 / "train.jsonl"), dev=str(SST2 / "dev.jsonl"),
                    test=str(SST2 / "test.jsonl"), inputs=("sentence",), output="label",
                    metric="accuracy", labels=("negative", "positive"))


def run_arm(lm, task, space, pruner: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/p.db")
        settings = SearchSettings(seed=args.seed, dev_limit=args.dev_limit, pruner=pruner,
                                  chunk_size=args.chunk_size, batch_size=args.batch_size)
        rec = new_search(store, f"prune-{pruner}", task, space, "smollm2", settings)
        start = time.perf_counter()
        summary = run_trials(store, rec, lm, args.trials)
        wall = time.perf_counter() - start
        counts = trial_counts(store, rec)
        top = best(store, rec)
        store.engine.dispose()
    return {"pruner": pruner, "wall_seconds": round(wall, 1), "best_dev": top.score,
            "complete": counts["complete"], "pruned": counts["pruned"],
            "examples_scored": summary.examples_computed}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--dev-limit", type=int, default=None, help="default: all of dev")
    p.add_argument("--chunk-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pruners", nargs="+", default=["none", "wilcoxon", "halving"])
    p.add_argument("--space", default=str(ROOT / "search_spaces" / "default.yaml"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json")
    args = p.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    from promptsearch.lm import load_lm
    lm = load_lm("smollm2", device="cpu")
    task, space = sst2_task(), load_space(args.space)
    rows = [run_arm(lm, task, space, pruner, args) for pruner in args.pruners]
    base = next((r for r in rows if r["pruner"] == "none"), None)
    print(f"{task.name} dev, {args.trials} trials, seed {args.seed}, chunk {args.chunk_size}, model {lm.name}")
    print(f"{'pruner':<10} {'wall s':>8} {'best dev':>9} {'complete':>9} {'pruned':>7} {'examples':>9} "
          f"{'time ratio':>10} {'Δ best (pts)':>12}")
    for r in rows:
        ratio = r["wall_seconds"] / base["wall_seconds"] if base else float("nan")
        delta = 100 * (r["best_dev"] - base["best_dev"]) if base else float("nan")
        r["time_ratio"], r["delta_best_points"] = round(ratio, 3), round(delta, 2)
        print(f"{r['pruner']:<10} {r['wall_seconds']:>8.1f} {r['best_dev']:>9.4f} {r['complete']:>9} "
              f"{r['pruned']:>7} {r['examples_scored']:>9} {ratio:>10.3f} {delta:>12.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": vars(args), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
