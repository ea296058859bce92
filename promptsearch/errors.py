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


class ModelCallError(UserError):
    """A call to a remote model that failed after its retries (rate limits, server errors,
    timeouts, a refused request). The trial it ran in fails and the search goes on
    (search/failures.py); several in a row stop the search."""


class NoLogprobsError(UserError):
    """A remote server that does not return prompt log-probabilities, so it cannot rank labels."""


def resume_command(name: str) -> str:
    """The command every message suggests for continuing a search: `resume` needs --trials."""
    return f"promptsearch resume {name} --trials N"


def excerpt(value: object, width: int = 60) -> str:
    """A value as an error message may quote it: on one line (line breaks and other control
    characters escaped) and at most `width` characters, so that a huge or multi-line value from a
    user's file can never make an error message long or split it."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of {len(hex(value)) * 6 // 5} digits or so"  # str() of a huge int is slow or refused
    try:
        text = value if isinstance(value, str) else repr(value)
    except (RecursionError, ValueError):
        text = f"a deeply nested {type(value).__name__}"
    if len(text) > 4 * width:
        text = text[: 4 * width]  # before escaping: a huge value costs nothing more
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return out if len(out) <= width else out[: width - 1] + "…"
