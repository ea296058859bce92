"""`promptsearch worker NAME` (join a search) and `promptsearch db upgrade` (migrate a database)."""
from __future__ import annotations

import argparse

from optuna.trial import TrialState

from promptsearch.cli import display
from promptsearch.cli.args import positive
from promptsearch.search import open_parts
from promptsearch.search.results import best, leaderboard
from promptsearch.storage import Store, mask_url, upgrade_database
from promptsearch.storage.owners import GRACE_PERIOD, HEARTBEAT_INTERVAL

console = display.console


def add_parsers(sub, common) -> None:
    w = sub.add_parser("worker", parents=[common],
                       help="join a search: run its trials beside other workers (any machine)")
    w.set_defaults(func=worker)
    w.add_argument("name", help="the search to join (made by `promptsearch optimize`)")
    w.add_argument("--trials", type=positive("--trials"),
                   help="add N trials to the search's target first (default: help reach the current target)")
    w.add_argument("--heartbeat", type=positive("--heartbeat"), default=HEARTBEAT_INTERVAL,
                   help="seconds between this worker's heartbeats")
    w.add_argument("--grace", type=positive("--grace"), default=GRACE_PERIOD,
                   help="seconds of silence after which another machine's trial counts as dead and is retried")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    up = db_sub.add_parser("upgrade", parents=[common],
                           help="upgrade a database made by an older promptsearch or Optuna (back it up first)")
    up.set_defaults(func=db_upgrade)


def worker(args: argparse.Namespace) -> int:
    from promptsearch.search.checks import check_unchanged
    from promptsearch.search.workers import check_context, join, run_worker  # imports the search stack

    store = Store(args.db, create=False, heartbeat_interval=args.heartbeat, grace_period=args.grace)
    record = store.get_search(args.name)
    check_unchanged(record)  # changed data or metric: refuse before raising the target
    target = join(store, record, args.trials)
    _, finished, _ = store.slot_counts(record)
    if finished >= target:
        console.print(f"search [bold]{record.name}[/bold] already has {finished} of {target} trials; "
                      f"add more with `promptsearch worker {record.name} --trials N`")
        return 0
    task, _, settings = open_parts(record)
    lm = _load_lm(record.model, settings)
    check_context(task, lm)
    console.print(f"worker on [bold]{record.name}[/bold]: {finished} of {target} trials finished")
    try:
        with display.TrialProgress(target, 0) as bar:
            bar.progress.update(bar.task_id, completed=finished)
            summary = run_worker(store, record, lm, on_trial=bar.update)
    except KeyboardInterrupt:
        display.err_console.print(f"interrupted: completed trials are saved; rejoin with "
                                  f"`promptsearch worker {record.name}`")
        return 130
    finally:
        store.close()
    console.print(f"this worker finished {summary.finished} trials in {summary.wall_seconds:.1f}s; "
                  f"the search has {summary.search_finished} of {summary.target}")
    return 0


def _load_lm(model: str, settings):
    from promptsearch.cli.commands import _load_lm as load
    return load(model, settings)


def db_upgrade(args: argparse.Namespace) -> int:
    versions = upgrade_database(args.db)
    for part, (before, after) in versions.items():
        if before == after:
            console.print(f"{part} tables: already at {after}")
        else:
            console.print(f"{part} tables: upgraded from {before or 'nothing'} to {after}")
    console.print(f"{mask_url(args.db)} is up to date")
    return 0


def run_pool(store: Store, record, db_url: str, n_workers: int, trials: int) -> int:
    """`optimize --workers N`: start N worker processes on the new search, show the progress
    from the database, and wait for them."""
    from promptsearch.search.workers import WorkerPool

    pool = WorkerPool(db_url, record.name, n_workers)
    pool.start()
    try:
        with display.TrialProgress(trials) as bar:
            def tick() -> None:
                _, finished, _ = store.slot_counts(record)
                top = store.load_study(record).get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                best_value = max((t.value for t in top), default=None)
                bar.progress.update(bar.task_id, completed=finished,
                                    best=f"{best_value:.4f}" if best_value is not None else "-")
            exits = pool.wait(on_tick=tick)
    except KeyboardInterrupt:
        pool.interrupt()
        display.err_console.print(f"interrupted: completed trials are saved; continue with "
                                  f"`promptsearch worker {record.name}` (one per process)")
        return 130
    finally:
        pool.close()
    failed = [e for e in exits if e.code != 0]
    for message in dict.fromkeys(e.last_error or f"exited with code {e.code}" for e in failed):
        display.err_console.print(f"worker: {message}", highlight=False, markup=False)
    _, finished, _ = store.slot_counts(record)
    console.print(f"{finished} of {store.trial_target(record)} trials finished by {n_workers} workers")
    if leaderboard(store, record, 1):
        console.print(display.leaderboard_table(leaderboard(store, record, 5)))
        console.print(display.best_prompt_panel(best(store, record)))
    return failed[0].code if failed else 0

