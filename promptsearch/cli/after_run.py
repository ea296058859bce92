"""`promptsearch run` (the found prompt on new inputs) and `promptsearch check` (a CI gate)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from promptsearch.cli import display
from promptsearch.cli.args import ranged


def add_parsers(sub, common) -> None:
    run = sub.add_parser("run", parents=[common], help="apply a found prompt to new inputs, as it was scored")
    run.set_defaults(func=run_prompt)
    run.add_argument("prompt", help="a search name (its best trial, or --trial N) or a prompt JSON file from "
                                    "`promptsearch export NAME --format json`")
    run.add_argument("--input", required=True, help="a JSONL or CSV file with the task's input fields, or - "
                                                    "for JSONL on standard input")
    run.add_argument("--trial", type=ranged("--trial", "trial"), help="a search's trial other than the best")
    run.add_argument("--model", help="run it on another model (default: the one the search used)")
    run.add_argument("-o", "--output", help="write the JSON lines to this file (default: standard output)")
    run.add_argument("--force", action="store_true", help="overwrite an existing -o file")

    chk = sub.add_parser("check", parents=[common], help="CI gate: score a prompt file on a split; exit 1 when it "
                                                         "is below --min-score or significantly worse than --baseline")
    chk.set_defaults(func=check)
    chk.add_argument("prompt", help="a prompt JSON file from `promptsearch export NAME --format json`")
    chk.add_argument("--task", required=True, help="the task YAML whose split it is scored on")
    chk.add_argument("--split", default="test", choices=("test", "dev", "train"))
    chk.add_argument("--min-score", type=float, help="fail when the score is below this (0 to 1)")
    chk.add_argument("--baseline", help="another prompt JSON: fail when the prompt is significantly worse")
    chk.add_argument("--alpha", type=float, default=0.05, help="significance level of the paired test (0.05)")
    chk.add_argument("--junit", help="also write the result as JUnit XML to this file")
    chk.add_argument("--limit", type=ranged("--limit", "limit"), help="score the first N examples only")
    chk.add_argument("--model", help="score on another model (default: the one the prompt was searched with)")


def run_prompt(args: argparse.Namespace) -> int:
    from promptsearch.service.runprompt import run_prompt as run

    with _progress() as bar:
        result = run(args.db, args.prompt, args.input, trial=args.trial, model=args.model, output=args.output,
                     overwrite=args.force, hooks=display.hooks(), on_progress=bar)
    if args.output:
        display.err_console.print(f"wrote {len(result.predictions)} predictions to {args.output}",
                                  markup=False, highlight=False)
    else:
        sys.stdout.write(result.text)
        sys.stdout.flush()
    return 0


def check(args: argparse.Namespace) -> int:
    """Exit 0 when every check passes, 1 when one fails (2: bad input, from main)."""
    from promptsearch.service.check import check_prompt

    result = check_prompt(args.prompt, args.task, split=args.split, min_score=args.min_score,
                          baseline=args.baseline, alpha=args.alpha, junit=args.junit, limit=args.limit,
                          model=args.model, hooks=display.hooks())
    sys.stdout.write(result.markdown())
    sys.stdout.flush()
    return 0 if result.passed else 1


class _Bar:
    def __init__(self) -> None:
        self.progress = Progress(TextColumn("inputs"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=display.err_console, transient=True)
        self.task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.progress.add_task("run", total=total)
        self.progress.update(self.task, completed=done)


class _progress:
    """A progress bar on stderr when it is a terminal; otherwise nothing (None is passed on)."""

    def __enter__(self):
        if not display.err_console.is_terminal:
            self.bar = None
            return None
        self.bar = _Bar()
        self.bar.progress.__enter__()
        return self.bar

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.progress.__exit__(*exc)



