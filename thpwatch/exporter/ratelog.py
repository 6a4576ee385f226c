"""Logging that a flood of bad clients cannot turn into a flood of log lines."""

from __future__ import annotations

import logging
import threading
import time


class RateLimitedLog:
    """At most one line per kind per `interval` seconds; the line says how many it stands for."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, kind: str, message: str, *args: object) -> bool:
        """Log unless `kind` was logged less than interval ago; True when a line was written."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.interval:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return False
            self._last[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        if suppressed:
            message += f" (and {suppressed} more like it in the last {self.interval:g} s)"
        self.logger.log(level, message, *args)
        return True
