"""Replay racing for the lead (search/racing.py) over searches that did not race: what it would
have saved on the same candidates, and whether it would have stopped a candidate that wins.

Every complete trial of a search stores its per-example dev scores (search/devscores.py), so the
race's decisions can be replayed without a model call: trials in the order they ran, each compared
rung by rung with the leader of that moment, on the dev order a racing search of the same seed
uses (runner.dev_order). This measures the race on fixed candidates; in a real racing search the
sampler then sees the stopped trials as pruned and the saved calls buy more trials, which a replay
cannot show (benchmarks/search_quality.py's `new+race` arm runs it live).

    .venv/bin/python benchmarks/racing_replay.py /tmp/ps-quality-*/sst2-new.db /tmp/ps-quality-*/trec-new.db

Prints one row per search and the totals; a search whose trials stored no dev scores, or whose
trials were scored on different dev sets, is skipped and named. The metric's aggregate is taken to
be the mean of the per-example scores (true for every task the quality benchmark runs).
"""
from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from optuna.trial import TrialState

import promptsearch as ps
from promptsearch.search.devscores import dev_scores
from promptsearch.search.racing import RACE_CONFIDENCE, Race, could_lead


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


@dataclass
class Replay:
    search: str
    trials: int
    stopped: int
    scored: int  # dev examples the race would have scored
    full: int  # every trial on all of dev
    best: float  # the search's best dev score
    raced_best: float  # the best dev score among the trials the race lets finish
    wrongly_stopped: int  # stopped trials that would have taken the lead on all of dev


def replay(scores: list[list[float]], order: list[int], start: int | None,
           confidence: float) -> tuple[int, int, int, float]:
    """(trials stopped, of those how many would have taken the lead, dev examples scored, best
    among the trials that finish) for trials scored `scores` (each on all of dev, in file order),
    raced on dev `order`."""
    n = len(order)
    rungs = Race.over(start, n).rungs(n)
    leader: list[float] = []
    stopped = wrong = scored = 0
    for s in scores:
        raced = [s[i] for i in order]
        end = n
        if leader:
            end = next((e for e in rungs[:-1] if not could_lead(raced[:e], leader[:e], mean, confidence)), n)
        scored += end
        if end < n:
            stopped += 1
            wrong += mean(raced) > mean(leader)
        elif not leader or mean(raced) > mean(leader):
            leader = raced
    return stopped, wrong, scored, mean(leader)


def replay_search(store: ps.Store, record: ps.SearchRecord, start: int | None, confidence: float) -> Replay | str:
    study = store.load_study(record)
    done = sorted((t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))), key=lambda t: t.number)
    scores = [dev_scores(t) for t in done]
    if not done or any(s is None for s in scores) or len({len(s) for s in scores if s}) != 1:
        return f"{record.name}: skipped (no complete trials with stored dev scores on one dev set)"
    if len(done[0].values or ()) != 1:
        return f"{record.name}: skipped (a multi-objective search cannot race)"
    n = len(scores[0])  # type: ignore[arg-type]
    order = list(range(n))
    random.Random(f"dev-order:{record.settings.get('seed', 0)}").shuffle(order)  # as runner.dev_order
    stopped, wrong, scored, raced_best = replay([s for s in scores if s is not None], order, start, confidence)
    return Replay(search=record.name, trials=len(done), stopped=stopped, scored=scored, full=len(done) * n,
                  best=max(mean(s) for s in scores if s is not None), raced_best=raced_best, wrongly_stopped=wrong)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("databases", nargs="+", type=Path, help="SQLite files of finished searches")
    p.add_argument("--race-start", type=int, help="first rung (default: a quarter of dev, at least 8)")
    p.add_argument("--confidence", type=float, default=RACE_CONFIDENCE)
    args = p.parse_args(argv)
    missing = [str(d) for d in args.databases if not d.is_file()]
    if missing:
        p.error(f"no such database: {', '.join(missing)}")
    rows: list[Replay] = []
    print("| search | trials | stopped | dev examples scored | share of all of dev | best dev | best dev raced | "
          "stopped that would have led |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for db in args.databases:
        store = ps.Store(f"sqlite:///{db}", create=False)
        for record in store.list_searches():
            r = replay_search(store, record, args.race_start, args.confidence)
            if isinstance(r, str):
                print(r, file=sys.stderr)
                continue
            rows.append(r)
            print(f"| {r.search} | {r.trials} | {r.stopped} | {r.scored:,} | {r.scored / r.full:.2f} | {r.best:.3f} | "
                  f"{r.raced_best:.3f} | {r.wrongly_stopped} |")
        store.close()
    if rows:
        scored, full = sum(r.scored for r in rows), sum(r.full for r in rows)
        print(f"\n{len(rows)} searches, {sum(r.trials for r in rows)} trials: the race stops "
              f"{sum(r.stopped for r in rows)}, scores {scored:,} of {full:,} dev examples ({scored / full:.2f}); "
              f"the best dev score is kept in {sum(r.raced_best == r.best for r in rows)} of {len(rows)} searches; "
              f"{sum(r.wrongly_stopped for r in rows)} stopped trials would have taken the lead "
              f"(confidence {args.confidence}, first rung {args.race_start or 'a quarter of dev, at least 8'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
