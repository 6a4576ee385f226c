"""Runs sources and assembles their output into one Snapshot."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from thpwatch.emitter import Emitter
from thpwatch.kernel.errors import KernelFileError
from thpwatch.snapshot import Sample, Snapshot, SourceStatus, State, labels_of
from thpwatch.sources.base import Source, SourceAbsent, SourceBlocked
from thpwatch.status_metrics import SOURCE_AGE

log = logging.getLogger(__name__)


def run_source(source: Source) -> tuple[list[Sample], list[SourceStatus]]:
    """Run one source; whatever happens, return its samples and its status (never raise)."""
    out = Emitter()
    start = time.perf_counter()
    try:
        source.collect(out)
        if out.problems:
            state, reason = State.ERROR, "; ".join(out.problems)
        else:
            state, reason = State.OK, ""
    except SourceAbsent as e:
        state, reason = State.ABSENT, str(e)
    except SourceBlocked as e:
        state, reason = State.BLOCKED, str(e)
    except (KernelFileError, OSError, ValueError) as e:
        state, reason = State.ERROR, "; ".join([*out.problems, str(e)])
    except Exception as e:  # a bug in a source must not take the others down
        log.exception("source %s failed", source.name)
        state, reason = State.ERROR, f"internal error: {type(e).__name__}: {e}"
    took = time.perf_counter() - start
    status = SourceStatus(source.name, "source", state, reason, took)
    return out.samples, [status, *out.statuses]


class Periodic:
    """Wraps an expensive source: collect() serves the last result, refresh() re-reads it.

    The owner decides when to refresh (the daemon on a timer thread, one-shot commands once).
    Emits thpwatch_source_age_seconds for the wrapped source.
    """

    def __init__(self, source: Source, interval: float) -> None:
        self.source = source
        self.name = source.name
        self.interval = interval
        self._lock = threading.Lock()
        self._result: tuple[list[Sample], list[SourceStatus]] | None = None
        self._taken = 0.0

    def refresh(self) -> None:
        result = run_source(self.source)
        with self._lock:
            self._result, self._taken = result, time.monotonic()

    def due(self) -> bool:
        return self._result is None or time.monotonic() - self._taken >= self.interval

    def collect(self, out: Emitter) -> None:
        if self._result is None:
            self.refresh()
        with self._lock:
            assert self._result is not None
            samples, statuses = self._result
            age = time.monotonic() - self._taken
        out.samples.extend(samples)
        status, *sub = statuses
        out.statuses.extend(sub)
        if status.state is State.ABSENT:
            raise SourceAbsent(status.reason)
        if status.state is State.BLOCKED:
            raise SourceBlocked(status.reason)
        if status.state is State.ERROR:
            out.problem(status.reason)
        out.samples.append(Sample(SOURCE_AGE.name, labels_of(source=self.name), age))


class Sampler:
    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)

    def snapshot(self) -> Snapshot:
        wall, mono = time.time(), time.monotonic()
        samples: list[Sample] = []
        statuses: list[SourceStatus] = []
        for source in self.sources:
            s, st = run_source(source)
            samples.extend(s)
            statuses.extend(st)
        return Snapshot(wall, mono, tuple(samples), tuple(statuses))
