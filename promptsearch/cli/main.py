"""The `promptsearch` command. User errors: one line on stderr, exit 2 (`--debug` for a traceback)."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from promptsearch import plugins
from promptsearch.cli import display
from promptsearch.cli.args import Parser
from promptsearch.errors import UserError
from promptsearch.service import Interrupted

EXIT_INTERRUPTED = 130


# Each module adds its subcommands with add_parsers(sub, common); a handler is set as `func`.
COMMAND_MODULES = ("promptsearch.cli.commands", "promptsearch.cli.extra", "promptsearch.cli.workers",
                   "promptsearch.cli.after")


def build_parser() -> Parser:
    common = Parser(add_help=False)
    common.add_argument("--db", default=os.environ.get("PROMPTSEARCH_DB", "sqlite:///db/promptsearch.db"),
                        help="SQLAlchemy database URL (default: $PROMPTSEARCH_DB or sqlite:///db/promptsearch.db)")
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    common.add_argument("-v", "--verbose", action="store_true", help="show info logs")
    common.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import this plug-in module first (its metrics, strategies, formats, ...); "
                             "repeatable; also $PROMPTSEARCH_PLUGINS and the 'promptsearch.plugins' entry points")
    parser = Parser(prog="promptsearch", description="Search the space of prompts for a task.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        # Plug-ins first: their names are choices of flags (--format, --sampler) the parser lists.
        plugins.load(plugin_args(argv))
        args = build_parser().parse_args(argv)
        plugins.load(args.plugin, entry_points_too=False)  # an abbreviated --plug the scan missed
        _setup_logging(args)
        return args.func(args)
    except UserError as e:
        if debug:
            raise
        display.err_console.print(display.styled("error:", "red", one_line(str(e))), highlight=False, soft_wrap=True)
        return e.exit_code
    except Interrupted as e:  # during trials: what was saved and how to continue
        display.err_console.print(e.message, markup=False, highlight=False)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        display.err_console.print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as e:
        line = environment_fault(e)
        if line is None or debug:
            raise
        display.err_console.print(display.styled("error:", "red", one_line(line)), highlight=False, soft_wrap=True)
        return UserError.exit_code


def environment_fault(e: BaseException) -> str | None:
    """One line for a failure of the disk, a file or the database that reached the CLI without
    a UserError (e.g. an I/O error inside a library's own database call); None for anything else,
    which is a bug and keeps its traceback."""
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    if isinstance(e, OSError) and e.errno is not None:
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{e.strerror or type(e).__name__} (errno {e.errno}); check the file and the disk, then run " \
               f"the command again (completed trials are kept)"
    driver = e.orig if isinstance(e, DBAPIError) else e
    if isinstance(driver, sqlite3.Error) or type(e).__name__ == "StorageInternalError":
        first = (str(driver).strip().splitlines() or [type(driver).__name__])[0][:200]
        return f"the database failed: {first}; check the disk, then run the command again (completed trials are kept)"
    return None


def plugin_args(argv: Sequence[str]) -> list[str]:
    """The --plugin values, read before the parser exists."""
    found = []
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--plugin" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--plugin="):
            found.append(arg.partition("=")[2])
    return found


def one_line(message: str) -> str:
    """An error is one line on stderr, whatever text it quotes (line breaks shown as \\n)."""
    return "\\n".join(message.splitlines())


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
    if not args.debug:  # no third-party progress bars ("Loading weights") in a log; read at their import
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.disable_progress_bar()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Idle OpenMP threads sleep instead of spinning: with several workers (or anything else) on
    # the same cores, spinning threads starve the ones doing work (a forward pass ran 5x slower).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import optuna
    optuna.logging.set_verbosity(optuna.logging.DEBUG if args.debug else optuna.logging.WARNING)
    for noisy in ("transformers", "sqlalchemy.engine", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR if not args.debug else logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
