"""Group commit: concurrent single calls carried out together as one batch call.

An agency node answers its own systems one request at a time (``POST /v1/requests``), but
every exchange costs database commits and signatures at the node, the hub and the provider.
``Batcher`` lets concurrent callers share them: each caller hands in its item and waits; a
worker takes every item queued at that moment (up to ``max_size``), runs the batch function
once and hands each caller its own result or error. A lone caller is served at once (no
waiting for company); under load, batches form by themselves while earlier ones are in
flight — the way databases batch commits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Final, Generic, TypeVar

from openmyna.errors import OpenMynaError, Unavailable
from openmyna.network.errors import BatcherClosed

T = TypeVar("T")
R = TypeVar("R")

_STOP: Final = object()


class Batcher(Generic[T, R]):
    """Carries out concurrent ``submit`` calls in batches through ``run``.

    ``run(items)`` returns one result or ``OpenMynaError`` per item, in order; if it raises,
    every caller of that batch gets the exception.
    """

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | OpenMynaError]],
        *,
        max_size: int = 100,
        workers: int = 2,
        name: str = "batcher",
    ) -> None:
        if max_size < 1 or workers < 1:
            raise ValueError("max_size and workers must be at least 1")
        self._run = run
        self._max = max_size
        self._queue: queue.SimpleQueue[tuple[T, Future[R]] | object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, item: T) -> R:
        """Carry out ``item`` (with whatever else is queued); its result, or raise its error."""
        future: Future[R] = Future()
        with self._lock:
            if self._closed:
                raise BatcherClosed("the service is stopping")
            self._queue.put((item, future))
        return future.result()

    def close(self) -> None:
        """Finish the queued calls, then stop the workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for _ in self._threads:
            self._queue.put(_STOP)
        for t in self._threads:
            t.join(timeout=30)

    def _take(self) -> tuple[list[tuple[T, Future[R]]], bool]:
        """Block for one entry, then take what else is queued; (batch, stop seen)."""
        batch: list[tuple[T, Future[R]]] = []
        entry = self._queue.get()
        while True:
            if entry is _STOP:
                return batch, True
            batch.append(entry)  # type: ignore[arg-type]
            if len(batch) >= self._max:
                return batch, False
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _work(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._take()
            if batch:
                self._carry_out(batch)

    def _carry_out(self, batch: list[tuple[T, Future[R]]]) -> None:
        try:
            results = self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise Unavailable("the batch gave another number of results")
        except BaseException as exc:  # every caller of this batch learns why
            for _, future in batch:
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, OpenMynaError):
                future.set_exception(result)
            else:
                future.set_result(result)
