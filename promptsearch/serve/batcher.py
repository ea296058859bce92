"""One thread owns the model; HTTP threads hand it work and wait.

A local model is not safe to call from many threads at once, and it is much faster on a batch than
on one request at a time. So each HTTP handler puts its work on a queue, and a single worker
takes whatever has arrived within a few milliseconds of the first item and answers it with one
model call per kind: `lm.generate` for generation, `lm.echo` for prompt log-probs (scoring
clients send many prompts at once, all sharing an instruction and demos). HFLM then shares the
prompt prefix across every client's rows and batches them.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from typing import Any, Sequence

from promptsearch.lm.base import LM, GenerateRequest, GenerateResult

log = logging.getLogger(__name__)


class Batcher:
    def __init__(self, lm: LM, *, max_batch: int = 32, wait_s: float = 0.01):
        self.lm, self.max_batch, self.wait_s = lm, max_batch, wait_s
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="promptsearch-batcher", daemon=True)
        self._thread.start()

    def generate(self, requests: Sequence[GenerateRequest]) -> list[GenerateResult]:
        """Blocks until the worker has answered these requests."""
        return self._submit(("generate",), list(requests))

    def echo(self, prompts: Sequence[str], top: int) -> list[Any]:
        """Prompt log-probs (lm.echo); blocks until answered."""
        return self._submit(("echo", top), list(prompts))

    def _submit(self, kind: tuple, items: list) -> list:
        future: Future = Future()
        self._queue.put((kind, items, future))
        return future.result()

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self.wait_s
            while sum(_weight(entry) for entry in batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._stop.set()
                    break
                batch.append(item)
            by_kind: dict[tuple, list] = defaultdict(list)
            for entry in batch:
                by_kind[entry[0]].append(entry)
            for kind, entries in by_kind.items():
                self._answer(kind, entries)

    def _answer(self, kind: tuple, batch: list) -> None:
        flat = [x for _, items, _ in batch for x in items]
        try:
            if kind[0] == "generate":
                results = self.lm.generate(flat)
            else:  # HFLM.echo: the server checked that the model has it
                results = self.lm.echo(flat, kind[1])  # type: ignore[attr-defined]
        except BaseException as e:  # noqa: BLE001 - handed to every waiting request
            for _, _, future in batch:
                future.set_exception(e)
            return
        log.debug("answered %d %s items from %d clients in one call", len(flat), kind[0], len(batch))
        at = 0
        for _, items, future in batch:
            future.set_result(results[at:at + len(items)])
            at += len(items)


ECHO_WEIGHT = 1 / 8  # echo prompts are one forward pass each, no decoding: collect 8x as many


def _weight(entry: tuple) -> float:
    kind, items, _ = entry
    return len(items) * (ECHO_WEIGHT if kind[0] == "echo" else 1.0)
