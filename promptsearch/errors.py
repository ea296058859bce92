"""Errors a user can fix. The CLI prints them as one line and exits 2; anything else is a bug."""
from __future__ import annotations

import re

# A message about one argument starts with its command-line flag: "--trials must be ...",
# "--dev-limit: ...". Such an error carries the argument without each raise naming it twice.
_LEADING_FLAG = re.compile(r"--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?=$|[\s:,])")

class UserError(Exception):
    """A problem with the user's input (file, flag, name), with the fix in the message.

    The message must be one line: where (file and field), what is wrong, and what is allowed.

    An error about one argument of a command carries it: `param` is its Python name ("trials"),
    `flag` the command line's ("--trials"), and the message is worded for the command line,
    starting with the flag. The Python API rewords it with `in_api_words` ("trials="). A message
    that starts with a flag carries it without being told.
    """

    exit_code = 2

    def __init__(self, message: str = "", *, param: str | None = None, flag: str | None = None):
        super().__init__(message)
        if param is None and flag is None and isinstance(message, str):
            found = _LEADING_FLAG.match(message)
            if found:
                param, flag = found.group(1).replace("-", "_"), found.group(0)
        self.param = param
        self.flag = flag if flag is not None else (f"--{param.replace('_', '-')}" if param else None)

    def in_api_words(self) -> UserError:
        """The same error naming its argument as a Python caller passes it (`trials=`) where the
        command line's message names the flag (`--trials`); itself when it is about no argument."""
        text = str(self)
        if not self.param or not self.flag or not text.startswith(self.flag):
            return self
        rest = text[len(self.flag):]
        if rest[:1] not in ("", " ", ":", ","):  # "--trials-x" is another flag
            return self
        # the rest may suggest a command line ("`promptsearch resume X --trials N`"): kept as it is
        error = type(self)(f"{self.param}={rest}", param=self.param, flag=self.flag)
        error.__cause__, error.__traceback__ = self.__cause__, self.__traceback__
        return error


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
