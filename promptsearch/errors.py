"""Errors a user can fix. The CLI prints them as one line and exits 2; anything else is a bug."""
from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (file, flag, name), with the fix in the message.

    The message must be one line: where (file and field), what is wrong, and what is allowed.
    """

    exit_code = 2


class ConfigError(UserError):
    """A task file, search space or data file that does not parse or validate."""


class NotFoundError(UserError):
    """A search name, model path or file that does not exist."""
