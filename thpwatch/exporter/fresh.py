"""Fresh snapshots for concurrent scrapes, without taking one per scrape.

Every caller gets a value whose computation started after it asked (so a scrape never sees data
older than itself); callers that arrive while one is being computed wait for the next one and
share it. 50 simultaneous scrapes therefore cost two readings of the kernel, not fifty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedFresh(Generic[T]):
    def __init__(self, compute: Callable[[], T]) -> None:
        self._compute = compute
        self._cond = threading.Condition()
        self._started = 0  # computations begun
        self._finished = 0  # number of the last finished computation
        self._running = False
        self._latest: T | None = None

    def get(self) -> T:
        with self._cond:
            # The first computation that can start after this call: the next one.
            wanted = self._started + 1
            while self._finished < wanted:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                self._started += 1
                number = self._started
                self._cond.release()
                try:
                    value = self._compute()
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._latest, self._finished = value, number
            assert self._latest is not None
            return self._latest
