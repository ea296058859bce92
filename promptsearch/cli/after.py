"""After the search: `show NAME --examples` (one trial's dev examples), `compare NAME A B`,
`run` (the found prompt on new inputs) and `check` (a CI gate)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table
from rich.text import Text

from promptsearch.cli import display
from promptsearch.cli.args import ranged

console = display.console


def add_parsers(sub, common) -> None:
    _extend_show(sub.choices["show"])
    cmp = sub.add_parser("compare", parents=[common], help="two trials example by example on dev, with a paired test")
    cmp.set_defaults(func=compare)
    cmp.add_argument("name")
    cmp.add_argument("a", type=ranged("A", "trial"), help="a trial number")
    cmp.add_argument("b", type=ranged("B", "trial"), help="another trial number")
    cmp.add_argument("--format", default="text", choices=("text", "json"))
    from promptsearch.cli import after_run
    after_run.add_parsers(sub, common)


def _extend_show(show: argparse.ArgumentParser) -> None:
    """`show` (cli/commands.py) gains --examples and its options; without it, show is unchanged."""
    plain = show.get_default("func")
    show.add_argument("--examples", action="store_true",
                      help="per-example dev results of the best trial (or --trial N): input, expected output, "
                           "prediction, score and the metric's feedback")
    show.add_argument("--trial", type=ranged("--trial", "trial"), help="with --examples: this trial, not the best")
    show.add_argument("--wrong", action="store_true", help="with --examples: only examples that lost points")
    show.add_argument("--limit", type=ranged("--limit", "limit"), help="with --examples: at most K examples")
    show.add_argument("--format", default="text", choices=("text", "json"), help="with --examples: json for scripts")

    def run(args: argparse.Namespace) -> int:
        if not args.examples:
            used = [f for f, v in (("--trial", args.trial), ("--wrong", args.wrong), ("--limit", args.limit),
                                   ("--format", args.format != "text")) if v not in (None, False)]
            if used:
                from promptsearch.errors import UserError
                raise UserError(f"show: {used[0]} needs --examples (e.g. `promptsearch show {args.name} "
                                f"--examples {used[0]} ...`)")
            return plain(args)
        return show_examples(args)
    show.set_defaults(func=run)


def show_examples(args: argparse.Namespace) -> int:
    from promptsearch import service
    result = service.trial_examples(args.db, args.name, args.trial, wrong=args.wrong, limit=args.limit)
    if args.format == "json":
        _json(result.to_dict())
        return 0
    lost = sum(o.lost for o in result.outcomes)
    _line(f"trial {result.trial} of search '{result.search}': dev score {result.score:.4f} ({result.metric}), "
          f"{len(result.outcomes)} dev examples, points lost on {lost}; showing {len(result.shown)}")
    for o in result.shown:
        _outcome(o.position, o.score, o.inputs, o.expected, [("prediction", o.prediction, o.feedback)])
    confusion = result.confusion()
    if confusion:
        console.print(confusion_table(confusion))
    return 0


def compare(args: argparse.Namespace) -> int:
    from promptsearch import service
    result = service.compare_trials(args.db, args.name, args.a, args.b)
    if args.format == "json":
        _json(result.to_dict())
        return 0
    _line(f"search '{result.search}': trial {result.a} {result.a_score:.4f}, trial {result.b} "
          f"{result.b_score:.4f} on {result.examples} dev examples; they differ on {len(result.differences)}")
    for d in result.differences:
        _outcome(d.a.position, None, d.a.inputs, d.a.expected,
                 [(f"trial {result.a}", f"{d.a.prediction}  (score {d.a.score:.4g})", d.a.feedback),
                  (f"trial {result.b}", f"{d.b.prediction}  (score {d.b.score:.4g})", d.b.feedback)])
    console.print(Text(result.reading(), style="bold"), highlight=False, soft_wrap=True)
    return 0


def confusion_table(confusion: dict[str, dict[str, int]]) -> Table:
    columns = list(next(iter(confusion.values())))
    table = Table(title="Confusion (rows: expected, columns: predicted)")
    table.add_column("expected")
    for c in columns:
        table.add_column(c, justify="right")
    for label, row in confusion.items():
        table.add_row(label, *(str(row[c]) for c in columns))
    return table


def _outcome(position: int, score: float | None, inputs: dict[str, str], expected: tuple[str, ...],
             answers: list[tuple[str, str, str | None]]) -> None:
    head = f"#{position}" + ("" if score is None else f"  score {score:.4g}" + ("" if score >= 1.0 else "  (lost)"))
    console.print(Text(head, style="bold"), highlight=False)
    for name, value in inputs.items():
        _field(name, value)
    _field("expected", " | ".join(expected))
    for name, value, feedback in answers:
        _field(name, value)
        if feedback:
            _field("feedback", feedback)


def _field(name: str, value: str) -> None:
    console.print(Text.assemble((f"  {name}: ", "dim"), value), highlight=False, soft_wrap=True)


def _line(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True)


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()
