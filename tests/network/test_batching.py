"""Group commit: concurrent single calls carried out as batches (``network.batching``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from openmyna.errors import InvalidInput, OpenMynaError, Unavailable
from openmyna.network.batching import Batcher
from openmyna.network.errors import BatcherClosed


class Recorder:
    """A batch function that remembers its batches; slow, so that calls pile up."""

    def __init__(self, delay: float = 0.02) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int | OpenMynaError]:
        with self.lock:
            self.batches.append(list(items))
        time.sleep(self.delay)
        return [InvalidInput("odd", item=i) if i % 2 else i * 10 for i in items]


def test_concurrent_calls_share_batches_and_keep_their_own_results() -> None:
    run = Recorder()
    batcher: Batcher[int, int] = Batcher(run, max_size=50, workers=2)
    try:
        with ThreadPoolExecutor(40) as pool:
            futures = {i: pool.submit(batcher.submit, i) for i in range(200)}
            for i, f in futures.items():
                if i % 2:
                    with pytest.raises(InvalidInput) as err:
                        f.result()
                    assert err.value.context == {"item": i}  # its own error, not a neighbour's
                else:
                    assert f.result() == i * 10
    finally:
        batcher.close()
    assert sorted(i for b in run.batches for i in b) == list(range(200))  # each once
    assert len(run.batches) < 100  # grouped: far fewer batch calls than calls
    assert max(len(b) for b in run.batches) > 1
    assert all(len(b) <= 50 for b in run.batches)


def test_a_lone_call_is_carried_out_at_once() -> None:
    run = Recorder(delay=0.0)
    batcher: Batcher[int, int] = Batcher(run, max_size=100, workers=1)
    try:
        start = time.perf_counter()
        assert batcher.submit(4) == 40
        assert time.perf_counter() - start < 0.5
        assert run.batches == [[4]]
    finally:
        batcher.close()


def test_a_failing_batch_fails_each_of_its_callers() -> None:
    def broken(items: list[int]) -> list[int | OpenMynaError]:
        raise Unavailable("the hub does not answer")

    batcher: Batcher[int, int] = Batcher(broken, workers=1)
    try:
        with pytest.raises(Unavailable):
            batcher.submit(1)

        def short(items: list[int]) -> list[int | OpenMynaError]:
            return []

        other: Batcher[int, int] = Batcher(short, workers=1)
        try:
            with pytest.raises(Unavailable):  # a result per item, or nobody gets one
                other.submit(1)
        finally:
            other.close()
    finally:
        batcher.close()


def test_a_closed_batcher_refuses_new_calls_after_finishing_queued_ones() -> None:
    run = Recorder(delay=0.05)
    batcher: Batcher[int, int] = Batcher(run, workers=1)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.submit, i * 2) for i in range(4)]
        time.sleep(0.01)
        batcher.close()
        assert [f.result() for f in futures] == [0, 20, 40, 60]
    with pytest.raises(BatcherClosed):
        batcher.submit(2)
    batcher.close()  # twice is fine


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Recorder(), max_size=0)
