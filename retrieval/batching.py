"""Work that arrives together is done together: a worker thread collects what concurrent callers
submit for a few milliseconds and hands it to one call.

Why: on a CPU a decoding step over 8 sequences costs less than twice one sequence's (reading
the weights dominates), and 8 prompts read in one pass about half what they cost one by one
(`python -m benchmarks.bench_batch_forward`), so 8 shoppers typing at once should share forward
passes rather than queue behind each other's. The first
request waits `window_s` for company; requests that arrive while a batch runs join it at its
next step (continuous batching), and each caller has its answer as soon as it is complete, so
a short answer never waits for a long one in its batch.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

WINDOW_S = 0.005  # how long a lone request waits for others: a forward pass takes ~35 ms
# Beyond this a pass only lengthens every turn in it: on the 2-core dev VM 16 prompts of 100
# tokens take 1.3 s in one pass (`python -m benchmarks.bench_batch_forward`).
MAX_BATCH = 16
IDLE_S = 60.0  # a worker with nothing to do for this long ends (the next submit starts another)
STOP_WAIT_S = 30.0  # at exit, how long a worker may take to finish its batch (a batch ends within its time limits)


# run(items, more) yields (index, result) as each item is done; more() returns items that join
# the run under way (indexed after those before them).
Run = Callable[[list[Item], Callable[[], list[Item]]], Iterable[tuple[int, Result | Exception]]]


class Batcher(Generic[Item, Result]):
    """Runs items submitted from many threads several at a time: `run` gets the first batch and
    a `more()` that hands it items submitted since (up to `max_batch` in flight), and yields
    each item's result or exception as soon as it has it. One worker thread, started on use
    and ended after `idle_s` without work, so a batcher dropped by its owner is not kept alive.
    `window_s` 0: a batch is what queued while the previous one ran."""

    def __init__(self, run: Run, window_s: float = WINDOW_S, max_batch: int = MAX_BATCH, name: str = "batcher",
                 idle_s: float = IDLE_S) -> None:
        if max_batch < 1 or window_s < 0 or idle_s <= 0:
            raise ValueError(f"max_batch must be >= 1, window_s >= 0 and idle_s > 0, got {max_batch}, {window_s}, {idle_s}")
        self.run = run
        self.window_s = window_s
        self.max_batch = max_batch
        self.idle_s = idle_s
        self.name = name
        self.batch_sizes: Counter[int] = Counter()  # calls of `run` by their items, those that joined included
        self._queue: queue.SimpleQueue[tuple[Item, Future] | None] = queue.SimpleQueue()  # None: stop
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._closed = False
        _open_batchers.add(self)

    def submit(self, item: Item, wait_s: float | None = None) -> Result:
        """`run`'s result for `item`, from whichever batch it joins. Raises the item's own
        exception, or TimeoutError after `wait_s` seconds (the item is then dropped if its
        batch has not started; a running batch is never interrupted)."""
        future: Future = Future()
        with self._start_lock:  # a worker ending for idleness checks the queue under this lock
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._worker.start()
            self._queue.put((item, future))
        try:
            return future.result(timeout=wait_s)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"{self.name}: no answer within {wait_s:g} s") from None

    def close(self, wait_s: float = STOP_WAIT_S) -> None:
        """Stop the worker once it has finished the batch it runs, and wait for it. Called for
        every batcher at exit: a daemon thread still in torch while the interpreter shuts down
        aborts the process ("terminate called without an active exception", exit code 134)."""
        with self._start_lock:
            self._closed = True
            worker = self._worker
        if worker is None or not worker.is_alive():
            return
        self._queue.put(None)
        worker.join(wait_s)
        if worker.is_alive():
            logger.warning("%s: still running a batch after %g s", self.name, wait_s)

    def _serve(self) -> None:
        while (batch := self._collect()) is not None:
            if batch:
                self._answer(batch)

    def _collect(self) -> list[tuple[Item, Future]] | None:
        """The next batch: the first waiting item, then whatever arrives within the window;
        None once the batcher is closed or idle (the worker then ends)."""
        try:
            first = self._queue.get(timeout=self.idle_s)
        except queue.Empty:
            with self._start_lock:
                if not self._queue.empty():
                    return []  # submitted just now: serve it
                self._worker = None
                return None
        if first is None:
            return None
        return self._drain([first], self.max_batch, time.perf_counter() + self.window_s)

    def _drain(self, pending: list[tuple[Item, Future]], room: int, closes: float) -> list[tuple[Item, Future]]:
        """`pending` and the items submitted until `closes` (time.perf_counter()), up to `room`
        in all; those whose callers gave up are left out."""
        while len(pending) < room:
            try:
                item = self._queue.get(timeout=max(0.0, closes - time.perf_counter()))
            except queue.Empty:
                break
            if item is None:  # closed: the worker stops after this batch
                self._queue.put(None)
                break
            pending.append(item)
        return _started(pending)

    def _answer(self, batch: list[tuple[Item, Future]]) -> None:
        futures = [future for _, future in batch]
        in_flight = len(futures)

        def more() -> list[Item]:
            nonlocal in_flight
            joined = self._drain([], self.max_batch - in_flight, time.perf_counter())  # those waiting now
            futures.extend(future for _, future in joined)
            in_flight += len(joined)
            return [item for item, _ in joined]

        try:
            for index, result in self.run([item for item, _ in batch], more):
                in_flight -= 1
                _settle(futures[index], result)
        except Exception as err:  # noqa: BLE001 - every caller hears of the failure; the worker lives on
            logger.exception("%s: a batch of %d failed", self.name, len(futures))
            for future in futures:
                _settle(future, err)
        for future in futures:
            _settle(future, RuntimeError(f"{self.name}: the batch ended without this item's result"))
        self.batch_sizes[len(futures)] += 1


_open_batchers: weakref.WeakSet[Batcher] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for batcher in list(_open_batchers):
        batcher.close()


def _started(pending: list[tuple[Item, Future]]) -> list[tuple[Item, Future]]:
    """The items whose callers still wait (marked running, so they can no longer be cancelled)."""
    return [(item, future) for item, future in pending if future.set_running_or_notify_cancel()]


def _settle(future: Future, result: object) -> None:
    """Give `future` its result or exception, unless it has one already."""
    if future.done():
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
