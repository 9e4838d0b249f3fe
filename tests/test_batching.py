"""retrieval.batching: callers who submit together share one call, each gets its own answer or its
own error, and one slow or failed batch never leaves another caller waiting."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from retrieval.batching import Batcher
from tests.conftest import REPO


def _doubles(items: list[int]) -> list[int | Exception]:
    return [ValueError(f"no {item}") if item < 0 else 2 * item for item in items]


def _doubled(items: list[int], more=None):
    """A run that answers its first items in one go, taking no others."""
    return enumerate(_doubles(items))


def test_callers_who_submit_together_share_a_batch_and_get_their_own_answers():
    batcher = Batcher(_doubled, window_s=0.05, max_batch=16)
    ready = threading.Barrier(8)

    def ask(item: int) -> int:
        ready.wait()  # all eight threads exist before any asks
        return batcher.submit(item)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert answers == [0, 2, 4, 6, 8, 10, 12, 14]
    assert sum(size * n for size, n in batcher.batch_sizes.items()) == 8 and batcher.batch_sizes.total() < 8


def test_a_batch_is_never_larger_than_max_batch():
    batcher = Batcher(_doubled, window_s=0.05, max_batch=3)
    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(batcher.submit, range(10))) == [2 * i for i in range(10)]
    assert max(batcher.batch_sizes) <= 3


def test_one_items_error_reaches_its_caller_only():
    batcher = Batcher(_doubled, window_s=0.05)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(batcher.submit, item) for item in (1, -1, 2)]
    assert futures[0].result() == 2 and futures[2].result() == 4
    with pytest.raises(ValueError, match="no -1"):
        futures[1].result()


def test_a_failing_batch_fails_its_callers_and_the_next_batch_is_served():
    calls = []

    def flaky(items, more):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("model fell over")
        return _doubled(items)

    batcher = Batcher(flaky, window_s=0.0)
    with pytest.raises(RuntimeError, match="fell over"):
        batcher.submit(1)
    assert batcher.submit(3) == 6


def test_a_caller_who_gives_up_is_dropped_and_the_others_are_served():
    """A batch that runs long makes a caller with a short wait give up; the item it left is
    not run, and a caller queued behind it is still answered."""
    release = threading.Event()
    seen = []

    def slow(items, more):
        seen.extend(items)
        if items == [0]:
            release.wait(5)
        return _doubled(items)

    batcher = Batcher(slow, window_s=0.0, max_batch=1)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batcher.submit, 0)
        time.sleep(0.1)
        gave_up = pool.submit(batcher.submit, 1, 0.2)
        patient = pool.submit(batcher.submit, 2, 10)
        with pytest.raises(TimeoutError, match="no answer within 0.2 s"):
            gave_up.result()
        release.set()
        assert first.result() == 0 and patient.result() == 4
    assert 1 not in seen


def test_settings_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="max_batch"):
        Batcher(_doubled, max_batch=0)


def test_items_submitted_while_a_batch_runs_join_it_and_each_is_answered_when_done():
    """A run in steps: each step takes in what was submitted since, and an item is answered
    after its own number of steps, not when the whole batch ends."""
    def stepwise(items, more):
        steps_left = {index: item for index, item in enumerate(items)}
        while steps_left:
            time.sleep(0.05)
            for index in [i for i, left in steps_left.items() if left <= 1]:
                del steps_left[index]
                yield index, -index
            steps_left = {i: left - 1 for i, left in steps_left.items()}
            for item in more():
                steps_left[len(items)] = item
                items.append(item)

    batcher = Batcher(stepwise, window_s=0.0, max_batch=8)

    with ThreadPoolExecutor(3) as pool:
        long = pool.submit(batcher.submit, 20)
        time.sleep(0.2)
        short = pool.submit(batcher.submit, 1)
        assert short.result() == -1 and not long.done()  # joined the running batch, answered first
        assert long.result() == 0
    assert batcher.batch_sizes == {2: 1}


def test_closing_waits_for_the_running_batch_and_later_submissions_are_refused():
    finished = threading.Event()

    def answers_then_works_on(items, more):
        yield 0, "answer"
        time.sleep(0.2)
        finished.set()

    batcher = Batcher(answers_then_works_on)
    assert batcher.submit("item") == "answer" and not finished.is_set()
    batcher.close()
    assert finished.is_set()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("another")



def test_an_idle_worker_ends_and_the_next_submission_is_served_by_a_new_one():
    batcher = Batcher(_doubled, window_s=0.0, idle_s=0.05, name="idle")
    assert batcher.submit(1) == 2
    time.sleep(0.3)
    assert not [t for t in threading.enumerate() if t.name == "idle"]  # the owner may drop it: nothing keeps it alive
    assert batcher.submit(2) == 4

# A run that still computes in torch after its caller has the answer, in a process that exits
# at once: torch on a daemon thread during shutdown used to abort it (exit code 134).
EXITS_AFTER_ITS_ANSWER = """
import torch
from retrieval.batching import Batcher

def run(items, more):
    x = torch.randn(256, 256)
    with torch.inference_mode():
        yield 0, "answer"
        for _ in range(300):
            x = torch.tanh(x @ x)

print(Batcher(run).submit("item", wait_s=30))
"""


def test_a_process_that_exits_right_after_its_answer_exits_cleanly():
    done = subprocess.run([sys.executable, "-c", EXITS_AFTER_ITS_ANSWER], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (done.returncode, done.stdout.strip()) == (0, "answer"), done.stderr[-2000:]
