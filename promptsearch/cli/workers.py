"""`promptsearch worker NAME` (join a search), `promptsearch db upgrade` (migrate a database) and
`promptsearch db backup` (copy one)."""
from __future__ import annotations

import argparse

from promptsearch import service
from promptsearch.cli import display
from promptsearch.cli.args import ranged
from promptsearch.errors import UserError
from promptsearch.service.hooks import plural
from promptsearch.storage import mask_url
from promptsearch.storage.owners import GRACE_PERIOD, HEARTBEAT_INTERVAL

console = display.console


def add_parsers(sub, common) -> None:
    w = sub.add_parser("worker", parents=[common],
                       help="join a search: run its trials beside other workers (any machine)")
    w.set_defaults(func=worker)
    w.add_argument("name", help="the search to join (made by `promptsearch optimize`)")
    w.add_argument("--trials", type=ranged("--trials", "trials"),
                   help="add N trials to the search's target first (default: help reach the current target)")
    w.add_argument("--heartbeat", type=ranged("--heartbeat", "heartbeat"), default=HEARTBEAT_INTERVAL,
                   help="seconds between this worker's heartbeats")
    w.add_argument("--grace", type=ranged("--grace", "grace"), default=GRACE_PERIOD,
                   help="seconds of silence after which another machine's trial counts as dead and is retried")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    up = db_sub.add_parser("upgrade", parents=[common],
                           help="upgrade a database made by an older promptsearch or Optuna (back it up first)")
    up.set_defaults(func=db_upgrade)
    bk = db_sub.add_parser("backup", parents=[common],
                           help="copy an SQLite database (every search, or one) into one new file with SQLite's "
                                "backup API: the way to copy a database, even while searches run")
    bk.set_defaults(func=db_backup)
    bk.add_argument("name", nargs="?", help="the search to copy (or --all)")
    bk.add_argument("--all", action="store_true", help="copy every search")
    bk.add_argument("-o", "--output", required=True, help="the backup file to write")
    bk.add_argument("--force", action="store_true", help="overwrite an existing backup file")


def worker(args: argparse.Namespace) -> int:
    result = service.work(args.db, args.name, trials=args.trials, heartbeat=args.heartbeat, grace=args.grace,
                          hooks=display.hooks())
    name = result.record.name
    if result.summary is None:
        console.print(f"search {name} already has {result.finished} of {plural(result.target, 'trial')}; "
                      f"add more with `promptsearch worker {name} --trials N`", markup=False, highlight=False)
        return 0
    s = result.summary
    console.print(f"this worker finished {plural(s.finished, 'trial')} in {s.wall_seconds:.1f}s; "
                  f"the search has {s.search_finished} of {s.target}", highlight=False)
    if s.stopped:
        console.print(s.stopped, style="bold", markup=False, highlight=False)
    return 0


def db_upgrade(args: argparse.Namespace) -> int:
    versions = service.upgrade(args.db)
    for part, (before, after) in versions.items():
        if before == after:
            console.print(f"{part} tables: already at {after}")
        else:
            console.print(f"{part} tables: upgraded from {before or 'nothing'} to {after}")
    console.print(f"{mask_url(args.db)} is up to date")
    return 0


def db_backup(args: argparse.Namespace) -> int:
    if (args.name is None) == (not args.all):
        raise UserError("db backup: name one search or pass --all (not both), e.g. "
                        "`promptsearch db backup --all -o backup.db`")
    path = service.backup(args.db, args.output, args.name, overwrite=args.force)
    what = f"search {args.name}" if args.name else "every search"
    console.print(f"backed up {what} of {mask_url(args.db)} to {path}", markup=False, highlight=False)
    return 0
