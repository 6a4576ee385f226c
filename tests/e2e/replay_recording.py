"""A recording to replay: a real Prometheus (1 s scrapes) that scraped real `thpwatch run`
processes while a real THP workload ran, and what the kernel said meanwhile, read live every
~0.1 s with the sources `top` uses, each reading with the wall-clock times around it."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.daemons import Exporter
from e2e.harness import Prometheus
from thpwatch.kernel import facts
from thpwatch.kernel.readings import KernelReadings
from thpwatch.sampler import Sampler
from thpwatch.snapshot import Snapshot
from thpwatch.sources.mthp import MthpSource
from thpwatch.workload import PMD_BYTES, Did, Region

SCRAPE_INTERVAL = 1.0  # seconds: the harness' Prometheus scrapes every second
READ_EVERY = 0.1  # seconds between live readings of the kernel's per-size files


@dataclass(frozen=True)
class Reading:
    """One live Snapshot and the wall-clock times before and after it was taken."""

    start: float
    end: float
    snapshot: Snapshot


@dataclass
class LiveReadings:
    readings: list[Reading] = field(default_factory=list)

    def before(self, t: float) -> Reading:
        """The last reading that ended before t."""
        return [r for r in self.readings if r.end <= t][-1]

    def after(self, t: float) -> Reading:
        """The first reading that started after t."""
        return next(r for r in self.readings if r.start >= t)

    def during(self, start: float, end: float) -> list[Reading]:
        """Readings that overlap [start, end]."""
        return [r for r in self.readings if r.end >= start and r.start <= end]


@contextmanager
def reading_live(root: Path = Path("/")) -> Iterator[LiveReadings]:
    """Read the per-size THP files every READ_EVERY seconds while the body runs."""
    sampler = Sampler([MthpSource(KernelReadings(root))])
    live = LiveReadings()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            start = time.time()
            snapshot = sampler.snapshot()
            live.readings.append(Reading(start, time.time(), snapshot))
            stop.wait(READ_EVERY)

    thread = threading.Thread(target=loop, name="live-readings", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        stop.set()
        thread.join()


def held_thps(count: int, hold: float) -> Did:
    """Fault `count` PMD THPs (MADV_HUGEPAGE), keep them mapped `hold` seconds, unmap: nr_anon
    goes up and down again, alloc counts jump."""
    did = Did("held_thps")
    with Region(PMD_BYTES * count, PMD_BYTES) as region:
        region.madvise(facts.MADV_HUGEPAGE, did)
        did.add("thps", region.write(PMD_BYTES))
        time.sleep(hold)
    return did


@dataclass
class Recording:
    prometheus: Prometheus
    live_exporter: Exporter  # this host, BPF, no --processes / --cgroups
    fixture_exporter: Exporter  # tests/fixtures/patched, --processes --cgroups
    live: LiveReadings
    start: float  # the workload's window, wall clock
    end: float
    thps: int  # PMD THPs the workload faulted
    live_top: tuple[float, subprocess.CompletedProcess[str]]  # (when, `top --once`) this host
    fixture_top: tuple[float, subprocess.CompletedProcess[str]]  # ... the patched fixture
