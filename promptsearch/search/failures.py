"""Trials that fail on a remote model's call while the search goes on.

A model server may rate-limit, restart or time out in the middle of a search. The client retries
each call (lm/http.py) and then raises ModelCallError; the runner records on the trial what it
used (tokens, cost) and why it failed (user attribute `error`), marks it failed, and the loop asks
Optuna for the next trial: a blip costs one trial, never the search, and the failed trial does not
count towards `--trials`. MAX_IN_A_ROW failures in a row mean the server is down rather than
blipping: the search then stops with one line saying so (completed trials are kept; `resume`
continues it once the server is back).
"""
from __future__ import annotations

import logging

from promptsearch.errors import ModelCallError

log = logging.getLogger(__name__)
MAX_IN_A_ROW = 3


class FailureStreak:
    """Counts trials that failed on the model since the last one that did not."""

    def __init__(self, limit: int = MAX_IN_A_ROW):
        self.limit, self.count = limit, 0

    def failed(self, number: int, error: ModelCallError) -> None:
        """Log the failed trial; raise once `limit` trials in a row have failed."""
        self.count += 1
        if self.count >= self.limit:
            raise ModelCallError(f"stopped after {self.count} trials in a row failed on the model; the last: "
                                 f"{error}") from None
        log.warning("trial %d failed, the search goes on: %s", number, error)

    def succeeded(self) -> None:
        self.count = 0
