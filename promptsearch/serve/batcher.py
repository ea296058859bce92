"""One thread owns the model; HTTP threads hand it work and wait.

A local model is not safe to call from many threads at once, and it is much faster on a batch than
on one request at a time. So each HTTP handler puts its requests on a queue, and a single worker
takes whatever has arrived within a few milliseconds of the first item and answers it with one
`lm.generate` call (HFLM then shares the prompt prefix and batches the rows).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Sequence

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
        future: Future = Future()
        self._queue.put((list(requests), future))
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
            while sum(len(r) for r, _ in batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._stop.set()
                    break
                batch.append(item)
            self._answer(batch)

    def _answer(self, batch: list) -> None:
        flat = [r for requests, _ in batch for r in requests]
        try:
            results = self.lm.generate(flat)
        except BaseException as e:  # noqa: BLE001 - handed to every waiting request
            for _, future in batch:
                future.set_exception(e)
            return
        log.debug("answered %d requests from %d clients in one batch", len(flat), len(batch))
        at = 0
        for requests, future in batch:
            future.set_result(results[at:at + len(requests)])
            at += len(requests)
