"""Issue 24's done-when table from many `search_quality.py --json` files: every (task, seed, arm)
cell, wherever it ran. Runs are split by seed, by task and by arm group (the DSPy arms take far
longer than ours), so no single file holds the table and quality_merge.py (one seed, one arm set)
cannot join them.

    python benchmarks/quality_grid.py /tmp/bq/runs/*.json --ours new

Prints the test accuracy of every arm per task as "seed 0 / seed 1", then, per arm, the mean test
and the mean (dev - test) over the cells it has, and for our arm against each other arm the
comparison the target needs: over the cells both have (a mean over different cells compares
different tasks), the mean test of each, the difference, in how many cells ours was above, equal,
below, and an exact McNemar (or Wilcoxon, for non-0/1 scores) test on the test examples of those
cells pooled. The target line: our mean test above every other arm on their common cells, and our
mean (dev - test) at most GAP_TARGET.

The files must agree on the budget, the dev/test limits and the model (checked). A cell in two files
must hold the same test scores (a fixed arm such as `hand` runs in every file): different scores for
one cell are an error naming both files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality_arms import ARMS

from promptsearch.verdict.stats import paired_test

SAME = ("budget_trials", "budget_calls", "dev_limit", "test_limit", "model")
GAP_TARGET = 0.03  # issue 24: the mean (dev - test) of our pick at most this
Cell = tuple[str, int, str]  # (task, seed, arm)


def load(paths: list[Path]) -> dict[Cell, dict[str, Any]]:
    """Every row of every file by (task, seed, arm); a cell seen twice must agree."""
    cells: dict[Cell, dict[str, Any]] = {}
    where: dict[Cell, Path] = {}
    first: dict[str, Any] | None = None
    for path in paths:
        run = json.loads(path.read_text(encoding="utf-8"))
        config = run["config"]
        if first is None:
            first = config
        differ = [k for k in SAME if config.get(k) != first.get(k)]
        if differ:
            raise SystemExit(f"{path}: {', '.join(differ)} differ from {paths[0]}'s; join runs of one configuration")
        for row in run["rows"]:
            cell = (row["task"], int(config["seed"]), row["arm"])
            if cell in cells and cells[cell]["test_scores"] != row["test_scores"]:
                raise SystemExit(f"{path}: {'/'.join(map(str, cell))} is also in {where[cell]} with other test "
                                 "scores; keep one of the two files")
            cells.setdefault(cell, {**row, "gap": row.get("gap", row["dev"] - row["test"])})
            where.setdefault(cell, path)
    return cells


def _order(values, known: list[str]) -> list:
    return sorted(set(values), key=lambda v: (known.index(v) if v in known else len(known), v))


def grid_table(cells: dict[Cell, dict[str, Any]]) -> str:
    """Test accuracy per task and arm, one number per seed ("-" where that seed did not run)."""
    tasks = list(dict.fromkeys(t for t, _, _ in cells))
    seeds = sorted({s for _, s, _ in cells})
    arms = _order((a for _, _, a in cells), ARMS)
    lines = [f"| task (seeds {' / '.join(map(str, seeds))}) | " + " | ".join(arms) + " |",
             "|---|" + "---:|" * len(arms)]
    for task in tasks:
        row = [" / ".join(f"{cells[(task, s, a)]['test']:.3f}" if (task, s, a) in cells else "-" for s in seeds)
               for a in arms]
        lines.append(f"| {task} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def arm_summary(cells: dict[Cell, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for arm in _order((a for _, _, a in cells), ARMS):
        rows = [r for (_, _, a), r in cells.items() if a == arm]
        out.append({"arm": arm, "cells": len(rows), "mean_test": sum(r["test"] for r in rows) / len(rows),
                    "mean_gap": sum(r["gap"] for r in rows) / len(rows), "max_gap": max(r["gap"] for r in rows)})
    return out


def head_to_head(cells: dict[Cell, dict[str, Any]], ours: str) -> list[dict[str, Any]]:
    """Our arm against each other arm on the cells both have."""
    mine = {(t, s): r for (t, s, a), r in cells.items() if a == ours}
    out = []
    for arm in _order((a for _, _, a in cells if a != ours), ARMS):
        common = [(mine[(t, s)], r) for (t, s, a), r in cells.items() if a == arm and (t, s) in mine]
        if not common:
            continue
        diffs = [m["test"] - o["test"] for m, o in common]
        name, p = paired_test([x for m, _ in common for x in m["test_scores"]],
                              [x for _, o in common for x in o["test_scores"]])
        out.append({"arm": arm, "cells": len(common), "ours": sum(m["test"] for m, _ in common) / len(common),
                    "theirs": sum(o["test"] for _, o in common) / len(common), "diff": sum(diffs) / len(diffs),
                    "above": sum(d > 0 for d in diffs), "equal": sum(d == 0 for d in diffs),
                    "below": sum(d < 0 for d in diffs), "test": name, "p": p})
    return out


def report(cells: dict[Cell, dict[str, Any]], ours: str) -> str:
    if not any(a == ours for _, _, a in cells):
        raise SystemExit(f"no cell of arm {ours!r}; arms found: {', '.join(_order((a for *_, a in cells), ARMS))}")
    parts = [grid_table(cells), "",
             "| arm | cells | mean test | mean dev − test | max dev − test |", "|---|---:|---:|---:|---:|"]
    summary = arm_summary(cells)
    parts += [f"| {g['arm']} | {g['cells']} | {g['mean_test']:.3f} | {g['mean_gap']:+.3f} | {g['max_gap']:+.3f} |"
              for g in summary]
    parts += ["", f"| {ours} against | common cells | {ours}: mean test | theirs | difference | "
                  "cells above / equal / below | pooled paired test, p |", "|---|---:|---:|---:|---:|---|---|"]
    h2h = head_to_head(cells, ours)
    parts += [f"| {h['arm']} | {h['cells']} | {h['ours']:.3f} | {h['theirs']:.3f} | {h['diff']:+.3f} | "
              f"{h['above']} / {h['equal']} / {h['below']} | {h['test']}, {h['p']:.3g} |" for h in h2h]
    gap = next(g["mean_gap"] for g in summary if g["arm"] == ours)
    behind = [h["arm"] for h in h2h if h["diff"] <= 0]
    met = not behind and gap <= GAP_TARGET
    parts += ["", f"TARGET {'MET' if met else 'NOT MET'} on the cells that ran: {ours}'s mean test is "
              + (f"not above {', '.join(behind)}" if behind else "above every other arm on their common cells")
              + f"; its mean dev − test is {gap:+.3f} (at most {GAP_TARGET:+.2f} wanted)"]
    return "\n".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--ours", default="new", help="the arm the target is about (default: new)")
    args = p.parse_args(argv)
    print(report(load(args.files), args.ours))
    return 0


if __name__ == "__main__":
    sys.exit(main())
