"""One thread owns the model; HTTP threads hand it work and wait.

A local model is not safe to call from many threads at once, and it is much faster on a batch than
on one request at a time. So each HTTP handler puts its work on a queue, and a single worker
takes whatever has arrived within a few milliseconds of the first item and answers it with one
model call per kind: `lm.generate` for generation, `lm.echo` for prompt log-probs (scoring
clients send many prompts at once, all sharing an instruction and demos). HFLM then shares the
prompt prefix across every client's rows and batches them.

No request can hold the model for long (issue 25):
- every submission carries a `Ticket`; its handler sets it when the client goes away or the
  request's wall time is up, and the decode loop drops that request's rows at its next step
  (lm/generation.py `watch`); work still queued for a set ticket is skipped;
- a long generation yields: between two decode steps, work that arrived meanwhile is answered
  first (on this same thread, so the model is still called by one thread at a time), up to
  MAX_NESTING levels deep, so a short request never waits for a long one to finish.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from promptsearch.lm.base import LM, GenerateRequest
from promptsearch.lm.generation import watch

log = logging.getLogger(__name__)
MAX_NESTING = 3  # a generation pauses for newer work at most this many levels deep


class Cancelled(Exception):
    """The request's ticket was set (client gone or wall time up) before its answer was ready."""


class Ticket(threading.Event):
    """Set by the HTTP handler to cancel the work it submitted."""


class Batcher:
    def __init__(self, lm: LM, *, max_batch: int = 32, wait_s: float = 0.01):
        self.lm, self.max_batch, self.wait_s = lm, max_batch, wait_s
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._depth = 0  # nesting of answers inside a paused generation (only the worker thread)
        self._thread = threading.Thread(target=self._run, name="promptsearch-batcher", daemon=True)
        self._thread.start()

    def generate(self, requests: Sequence[GenerateRequest], ticket: Ticket | None = None) -> Future:
        """A future for these requests' results; set `ticket` to cancel them."""
        return self._submit(("generate",), list(requests), ticket)

    def echo(self, prompts: Sequence[str], top: int, ticket: Ticket | None = None) -> Future:
        """A future for the prompts' log-probs (lm.echo)."""
        return self._submit(("echo", top), list(prompts), ticket)

    def _submit(self, kind: tuple, items: list, ticket: Ticket | None) -> Future:
        future: Future = Future()
        self._queue.put((kind, items, future, ticket or Ticket()))
        return future

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self._queue.get()
            if first is None:
                break
            self._answer_all(self._collect([first], wait=True))

    def _collect(self, batch: list, wait: bool) -> list:
        """`batch` plus what else is queued (waiting up to wait_s for more when `wait`)."""
        deadline = time.monotonic() + (self.wait_s if wait else 0.0)
        while sum(_weight(entry) for entry in batch) < self.max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic())) if wait \
                    else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._stop.set()
                break
            batch.append(item)
        return batch

    def _answer_all(self, batch: list) -> None:
        by_kind: dict[tuple, list] = defaultdict(list)
        for entry in batch:
            if entry[3].is_set():  # cancelled while queued: nobody waits for it
                entry[2].set_exception(Cancelled())
            else:
                by_kind[entry[0]].append(entry)
        for kind, entries in by_kind.items():
            self._answer(kind, entries)

    def _answer(self, kind: tuple, batch: list) -> None:
        flat = [x for _, items, _, _ in batch for x in items]
        try:
            if kind[0] == "generate":
                with watch(self._step_hook(batch)):
                    results = self.lm.generate(flat)
            else:  # HFLM.echo: the server checked that the model has it
                results = self.lm.echo(flat, kind[1])  # type: ignore[attr-defined]
        except BaseException as e:
            for _, _, future, _ in batch:
                future.set_exception(e)
            return
        log.debug("answered %d %s items from %d clients in one call", len(flat), kind[0], len(batch))
        at = 0
        for _, items, future, ticket in batch:
            if ticket.is_set():
                future.set_exception(Cancelled())
            else:
                future.set_result(results[at:at + len(items)])
            at += len(items)

    def _step_hook(self, batch: list):
        """Called between decode steps with the requests of the rows still decoding: answers
        newer work first, then says which rows to drop (every client that asked is gone).
        Identical greedy requests share one row, so a row stops only when all their tickets are set."""
        tickets: dict[Any, list[Ticket]] = defaultdict(list)
        for _, items, _, ticket in batch:
            for r in items:
                tickets[_row_key(r)].append(ticket)

        def hook(requests: list[GenerateRequest]) -> list[bool]:
            if self._depth < MAX_NESTING and not self._queue.empty() and not self._stop.is_set():
                self._depth += 1
                try:
                    self._answer_all(self._collect([], wait=False))
                finally:
                    self._depth -= 1
            return [all(t.is_set() for t in tickets.get(_row_key(r), ())) for r in requests]

        return hook


def _row_key(r: GenerateRequest) -> tuple:
    """What lm/generation.py decodes once: identical greedy requests share a row."""
    return ("greedy", r.context, r.max_new_tokens, r.stop) if r.temperature <= 0 else ("sample", id(r))


ECHO_WEIGHT = 1 / 8  # echo prompts are one forward pass each, no decoding: collect 8x as many


def _weight(entry: tuple) -> float:
    kind, items, _, _ = entry
    return len(items) * (ECHO_WEIGHT if kind[0] == "echo" else 1.0)
