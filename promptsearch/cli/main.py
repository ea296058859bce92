"""The `promptsearch` command. User errors: one line on stderr, exit 2 (`--debug` for a traceback)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from promptsearch.cli import display
from promptsearch.errors import UserError

EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _positive(name: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got '{text}'") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{name} must be at least 1, got {value}")
        return value
    return parse


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--db", default=os.environ.get("PROMPTSEARCH_DB", "sqlite:///db/promptsearch.db"),
                        help="SQLAlchemy database URL (default: $PROMPTSEARCH_DB or sqlite:///db/promptsearch.db)")
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    common.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    parser = Parser(prog="promptsearch", description="Search the space of prompts for a task.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    opt = sub.add_parser("optimize", parents=[common], help="start a new search")
    opt.add_argument("task", help="task YAML file (see examples/)")
    opt.add_argument("--space", default="search_spaces/default.yaml", help="search-space YAML file")
    opt.add_argument("--trials", type=_positive("--trials"), default=20, help="trials to complete")
    opt.add_argument("--name", help="name of the search (default: the task's name)")
    opt.add_argument("--model", default="smollm2",
                     help="'smollm2' (the embedded model), a local Hugging Face model folder or a .gguf file")
    opt.add_argument("--dev-limit", type=_positive("--dev-limit"), help="score on the first N dev examples only")
    opt.add_argument("--seed", type=int, default=0, help="sampler seed")
    opt.add_argument("--sampler", default="tpe", choices=("tpe", "random"))
    opt.add_argument("--batch-size", type=_positive("--batch-size"), default=32)
    opt.add_argument("--max-new-tokens", type=_positive("--max-new-tokens"), default=32,
                     help="generation tasks: longest answer in tokens")
    opt.add_argument("--pruner", default="none", choices=("none", "wilcoxon", "halving"),
                     help="score dev in chunks and stop losing candidates early")
    opt.add_argument("--chunk-size", type=_positive("--chunk-size"), default=16,
                     help="dev examples per step when a pruner is on")
    opt.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    opt.add_argument("--dtype", choices=("fp32", "bf16"), help="default: bf16 on cuda, fp32 on cpu")

    res = sub.add_parser("resume", parents=[common], help="continue a stopped search")
    res.add_argument("name")
    res.add_argument("--trials", type=_positive("--trials"), required=True, help="more trials to complete")

    show = sub.add_parser("show", parents=[common], help="settings, trial counts and leaderboard")
    show.add_argument("name")
    show.add_argument("--top", type=_positive("--top"), default=5)

    sub.add_parser("list", parents=[common], help="every search in the database")

    exp = sub.add_parser("export", parents=[common], help="write the best prompt")
    exp.add_argument("name")
    exp.add_argument("--format", default="text", choices=("text", "json"))
    exp.add_argument("-o", "--output", help="file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        _setup_logging(args)
        from promptsearch.cli import commands  # heavy imports (torch, optuna) only after parsing
        return getattr(commands, args.command)(args)
    except UserError as e:
        if debug:
            raise
        display.err_console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:
        display.err_console.print("interrupted")
        return EXIT_INTERRUPTED


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import optuna
    optuna.logging.set_verbosity(optuna.logging.DEBUG if args.debug else optuna.logging.WARNING)
    for noisy in ("transformers", "sqlalchemy.engine", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR if not args.debug else logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
