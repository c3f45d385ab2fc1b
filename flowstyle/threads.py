"""Overlap decode, network and encode on worker threads (docs/architecture.md, "Where speed comes from").

libav releases the GIL while it decodes, scales and encodes, and torch while it
computes, so bounded queues keep the cores busy without letting memory grow with
clip length.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


class Prefetcher(Generic[T]):
    """Run ``iterator`` on a background thread, ``depth`` items ahead of the consumer.

    Exceptions raised by the iterator are re-raised in the consumer. ``close()``
    stops the thread early (the consumer failed or was interrupted).
    """

    def __init__(self, iterator: Iterator[T], depth: int = 4, name: str = "prefetch") -> None:
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(iterator,), name=name, daemon=True)
        self._thread.start()

    def _run(self, iterator: Iterator[T]) -> None:
        try:
            for item in iterator:
                if not _put(self._q, item, self._stop):
                    return
            _put(self._q, _DONE, self._stop)
        except BaseException as exc:  # re-raised in the consumer
            _put(self._q, _Failure(exc), self._stop)

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class BackgroundWorker(Generic[T]):
    """Apply ``fn`` to submitted items in order on one background thread, at most ``depth`` queued."""

    def __init__(self, fn: Callable[[T], None], depth: int = 4, name: str = "worker") -> None:
        self._fn = fn
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE or self._error is not None:
                return
            try:
                self._fn(item)
            except BaseException as exc:  # reported to the submitter
                self._error = exc
                self._stop.set()

    def submit(self, item: T) -> None:
        """Queue ``item``; raises the worker's exception if it has failed."""
        self._raise()
        _put(self._q, item, self._stop)
        self._raise()

    def finish(self) -> None:
        """Wait for every queued item; raises the worker's exception if any."""
        self._raise()
        self._q.put(_DONE)
        self._thread.join()
        self._raise()

    def cancel(self) -> None:
        self._stop.set()
        self._error = self._error or RuntimeError("cancelled")
        try:
            self._q.put_nowait(_DONE)
        except queue.Full:
            pass
        self._thread.join(timeout=5)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterator[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, results in input order, at most ``workers + 1`` in flight.

    With one worker it is a plain loop on the calling thread.
    """
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stylize")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def intra_op_threads(n: int | None) -> Iterator[None]:
    """Set torch's and OpenCV's thread counts for the duration (None: leave them), then restore them.

    Used when frames are processed in parallel, one per core: threads inside each
    operation would only oversubscribe the cores.
    """
    import cv2
    import torch

    if n is None:
        yield
        return
    before, before_cv = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
        cv2.setNumThreads(before_cv)
