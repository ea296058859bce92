"""One table and one target line from several `search_quality.py --json` files: the benchmark's
tasks run as separate processes (one per core, or on several machines) and reported together.

    python benchmarks/search_quality.py --tasks trec --threads 1 --json a.json &
    python benchmarks/search_quality.py --tasks sst2 navigate --threads 1 --json b.json &
    wait; python benchmarks/quality_merge.py a.json b.json

The files must agree on the budget, dev/test limits and seed (checked); a task in two files is an
error. The target is evaluated over all tasks together, as one run would. Below the table, the
winner's curse per arm: the mean (dev − test) of the pick and of the start prompt over tasks (a
file written before those columns existed has the pick's gap only).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_arms import ARMS
from quality_winners import gap_summary, gap_table, target_verdict, verdict_line
from search_quality import count_check, spread_line, table

SAME = ("budget_trials", "budget_calls", "dev_limit", "test_limit", "seed", "model", "arms")


def merge(paths: list[Path]) -> dict:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    first = runs[0]["config"]
    for path, run in zip(paths[1:], runs[1:]):
        differ = [k for k in SAME if run["config"].get(k) != first.get(k)]
        if differ:
            raise SystemExit(f"{path}: {', '.join(differ)} differ from {paths[0]}'s; merge runs of one configuration")
    rows, spreads, degraded, seconds = [], {}, {}, {}
    for path, run in zip(paths, runs):
        twice = set(run["format_spread"]) & set(spreads)
        if twice:
            raise SystemExit(f"{path}: task {', '.join(sorted(twice))} is in two files")
        rows += run["rows"]
        spreads.update(run["format_spread"])
        degraded.update(run["degraded"])
        seconds.update(run["task_seconds"])
    for r in rows:  # files written before the gap columns: the pick's gap from its scores, no start
        r.setdefault("gap", r["dev"] - r["test"])
        for key in ("start_dev", "start_test", "start_gap", "vs_start", "vs_start_p"):
            r.setdefault(key, None)
    rows.sort(key=lambda r: (list(seconds).index(r["task"]), ARMS.index(r["arm"])))
    return {"config": first, "rows": rows, "format_spread": spreads, "degraded": degraded, "task_seconds": seconds}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", help="write the merged result")
    args = p.parse_args(argv)
    out = merge(args.files)
    print(table(out["rows"]) + "\n")
    print("winner's curse per arm, over tasks (dev − test: positive when the pick did worse on test):\n"
          + gap_table(out["rows"]) + "\n")
    out["gaps"] = gap_summary(out["rows"])
    for task, s in out["format_spread"].items():
        print(spread_line(task, s))
    out["target"] = target_verdict(out["rows"])
    print("\n" + verdict_line(out["target"], bool(out["degraded"])))
    print(count_check(out["rows"]))
    c = out["config"]
    print(f"budget {c.get('budget_calls') or str(c['budget_trials']) + ' trial-equivalents'} of model calls per "
          f"search arm, dev-limit {c['dev_limit']}, test-limit {c['test_limit']}, seed {c['seed']}; seconds per task: "
          + ", ".join(f"{t} {s:.0f}" for t, s in out["task_seconds"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
