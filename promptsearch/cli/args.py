"""Argument parsing shared by every subcommand module."""
from __future__ import annotations

import argparse

from promptsearch.config.limits import LIMITS, check_int
from promptsearch.errors import ConfigError, UserError, excerpt


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit 2 like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def ranged(flag: str, kind: str):
    """An argparse type: an integer within promptsearch.config.limits.LIMITS[kind]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            if text.strip().lstrip("+-").isdigit():  # more digits than int() converts
                raise argparse.ArgumentTypeError(f"{flag} must be at most {LIMITS[kind][1]}, got "
                                                 f"{excerpt(text.strip(), 30)}") from None
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got '{excerpt(text, 40)}'") from None
        try:
            return check_int(flag, value, kind)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse
