"""Work that arrives together is done together: a worker thread collects what concurrent callers
submit for a few milliseconds and hands it to one call.

Why: on a CPU a decoding step over 8 sequences costs about twice one sequence's, not eight
times (reading the weights dominates), so 8 shoppers typing at once should share forward passes
rather than queue behind each other's (`python -m benchmarks.bench_batch_forward`). The first
request waits `window_s` for company; requests that arrive while a batch runs form the next
one at once, so a busy service batches by itself and a quiet one adds only the window.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

WINDOW_S = 0.005  # how long a lone request waits for others: a forward pass takes ~35 ms
MAX_BATCH = 16  # more per pass only lengthens everyone's turn on a 2-core CPU (benchmarks/README_batching.md)


class Batcher(Generic[Item, Result]):
    """Calls `run(items)` on items submitted from many threads, several at a time; `run`
    returns one result or exception per item, in order. One worker thread, started on first use."""

    def __init__(self, run: Callable[[list[Item]], Sequence[Result | Exception]], window_s: float = WINDOW_S,
                 max_batch: int = MAX_BATCH, name: str = "batcher") -> None:
        if max_batch < 1 or window_s < 0:
            raise ValueError(f"max_batch must be >= 1 and window_s >= 0, got {max_batch} and {window_s}")
        self.run = run
        self.window_s = window_s
        self.max_batch = max_batch
        self.name = name
        self.batch_sizes: list[int] = []  # one entry per call of `run`, for benchmarks and tests
        self._queue: queue.SimpleQueue[tuple[Item, Future]] = queue.SimpleQueue()
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def submit(self, item: Item, wait_s: float | None = None) -> Result:
        """`run`'s result for `item`, from whichever batch it joins. Raises the item's own
        exception, or TimeoutError after `wait_s` seconds (the item is then dropped if its
        batch has not started; a running batch is never interrupted)."""
        future: Future = Future()
        self._ensure_worker()
        self._queue.put((item, future))
        try:
            return future.result(timeout=wait_s)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"{self.name}: no answer within {wait_s:g} s") from None

    def _ensure_worker(self) -> None:
        with self._start_lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._worker.start()

    def _serve(self) -> None:
        while True:
            batch = self._collect()
            if batch:
                self._answer(batch)

    def _collect(self) -> list[tuple[Item, Future]]:
        """The next batch: the first waiting item, then whatever arrives within the window (up
        to `max_batch`); items whose callers gave up are left out."""
        pending = [self._queue.get()]
        closes = time.perf_counter() + self.window_s
        while len(pending) < self.max_batch:
            try:
                pending.append(self._queue.get(timeout=max(0.0, closes - time.perf_counter())))
            except queue.Empty:
                break
        return [(item, future) for item, future in pending if future.set_running_or_notify_cancel()]

    def _answer(self, batch: list[tuple[Item, Future]]) -> None:
        self.batch_sizes.append(len(batch))
        try:
            results = self.run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for a batch of {len(batch)}")
        except Exception as err:  # noqa: BLE001 - every caller hears of the failure; the worker lives on
            logger.exception("%s: a batch of %d failed", self.name, len(batch))
            results = [err] * len(batch)
        for (_, future), result in zip(batch, results):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
