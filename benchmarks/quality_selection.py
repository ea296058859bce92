"""Which trial should a search return: its best dev score, or its start prompt unless the winner is
significantly better on dev? Re-reads the searches a search_quality.py run kept (--workdir) and,
for every search arm, compares the two rules on held-out test data.

    python benchmarks/search_quality.py --workdir runs/q0 ...     # the searches (hours)
    python benchmarks/quality_selection.py runs/q0 --threads 1

For each arm's search: the best trial against the first (the start prompt, search/start.py) on dev
(promptsearch's own paired test, `evaluate_heldout(split="dev", baseline="first")`: every score is
in the search's evaluation cache, so it costs no model call) and on test; the "proven" rule returns
the best trial when its dev gain over the first is significant (p < 0.05) and the first otherwise.
The hand prompt's test score (the `<task>-hand.json` baseline search_quality.py wrote) is the bar
issue 14's target sets: the last lines count, per rule, the searches below it and the mean test score.
Model calls: the first trial and the hand prompt on test, when not cached.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import promptsearch as ps  # noqa: E402

ALPHA = 0.05
FIXED = ("hand", "zero-shot")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workdir", type=Path, help="a search_quality.py --workdir")
    p.add_argument("--test-limit", type=int, default=200,
                   help="test examples (search_quality.py's --test-limit; BIG-Bench Hard has 125)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = p.parse_args(argv)
    if not any(args.workdir.glob("*-hand.json")):
        p.error(f"{args.workdir}: no <task>-hand.json; give the --workdir of a search_quality.py run")
    return args


def searches(workdir: Path):
    """(task, arm, store, record) of every search arm, in file order."""
    for db in sorted(workdir.glob("*.db")):
        task, arm = db.stem.rsplit("-", 1) if not db.stem.endswith("-zero-shot") else (db.stem[:-10], "zero-shot")
        if arm in FIXED:
            continue
        store = ps.Store(f"sqlite:///{db}", create=False)
        for record in store.list_searches():
            yield task, arm, store, record


def compare(lm, store, record, hand_json: Path, test_limit: int) -> dict:
    dev = ps.evaluate_heldout(store, record, split="dev", baseline="first", limit=record.settings.get("dev_limit"),
                              lm=lm, save=False)
    test = ps.evaluate_heldout(store, record, split="test", baseline="first", limit=test_limit, lm=lm, save=False)
    hand = ps.evaluate_heldout(store, record, split="test", baseline=str(hand_json), limit=test_limit, lm=lm,
                               save=False)
    proven = dev.p_value < ALPHA and dev.difference.estimate > 0
    return {"winner": dev.best.source, "dev_gain": dev.difference.estimate, "dev_p": dev.p_value,
            "best": test.best.score.estimate, "first": test.baseline.score.estimate,
            "proven": test.best.score.estimate if proven else test.baseline.score.estimate,
            "hand": hand.baseline.score.estimate}


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    lm = ps.load_lm("smollm2")
    rows = []
    print("| task | arm | winner | dev gain over first | dev p | test: best | test: first | test: proven | hand |")
    print("|---|---|---|---|---|---|---|---|---|")
    for task, arm, store, record in searches(args.workdir):
        hand = args.workdir / f"{task}-hand.json"
        r = {"task": task, "arm": arm, **compare(lm, store, record, hand, args.test_limit)}
        rows.append(r)
        print(f"| {task} | {arm} | {r['winner']} | {r['dev_gain']:+.3f} | {r['dev_p']:.2g} | {r['best']:.3f} | "
              f"{r['first']:.3f} | {r['proven']:.3f} | {r['hand']:.3f} |", flush=True)
    for rule in ("best", "proven"):
        below = [f"{r['task']}/{r['arm']}" for r in rows if r[rule] < r["hand"] - 1e-9]
        mean = sum(r[rule] for r in rows) / len(rows)
        print(f"rule {rule}: mean test {mean:.4f} over {len(rows)} searches; below the hand prompt on "
              f"{len(below)}" + (f" ({', '.join(below)})" if below else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
