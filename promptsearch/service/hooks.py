"""What a caller sees while the service works. The CLI shows spinners, lines and a progress bar;
the Python API passes nothing and sees nothing (library code never prints)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

import optuna

from promptsearch.search.runner import TrialEvent
from promptsearch.storage.store import SearchRecord

log = logging.getLogger("promptsearch.service")

# Optuna writes its info lines ("A new study created", "Trial 3 finished ...") to stderr through a
# handler of its own, whatever the application configured; library code must not print. Its
# records go through Python logging instead (logger "optuna"), shown at the application's level:
# the CLI's --verbose/--debug, an API user's logging.basicConfig.
optuna.logging.disable_default_handler()
optuna.logging.enable_propagation()


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 trial', '2 trials' (`many` for an irregular plural)."""
    return f"{n} {word if n == 1 else many or word + 's'}"


class TrialSink(Protocol):
    def update(self, event: TrialEvent) -> None:
        """A trial finished (its counts are the search's)."""

    def show(self, completed: int, best: float | None) -> None:
        """The search's finished trials and best score, read from the database."""


class _NoSink:
    def update(self, event: TrialEvent) -> None:
        pass

    def show(self, completed: int, best: float | None) -> None:
        pass


@dataclass
class Hooks:
    """status(text): a context shown while a slow step runs (loading a model, scoring).
    note(text): one line of information; user text in it is to be shown literally.
    warn(text): a warning (e.g. labels the model cannot tell apart); the API logs it.
    trials(total, done): a context over a run of trials, giving a TrialSink.
    on_trial: also called with every finished trial (the API's callback)."""

    status: Callable[[str], AbstractContextManager[object]] = lambda text: nullcontext()
    note: Callable[[str], None] = lambda text: None
    warn: Callable[[str], None] = lambda text: log.warning("%s", text)
    trials: Callable[[int, int], AbstractContextManager[TrialSink]] = lambda total, done: nullcontext(_NoSink())
    on_trial: Callable[[TrialEvent], None] | None = None


QUIET = Hooks()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run (still a KeyboardInterrupt): the completed trials are saved.
    `message` says how to continue."""

    def __init__(self, record: SearchRecord, message: str):
        super().__init__(message)
        self.record, self.message = record, message
