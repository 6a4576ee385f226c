"""Cost of one process / cgroup scan, timed in this process around the scan source itself
(the daemon runs these scans on their own interval, not per scrape)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from thpwatch.emitter import Emitter
from thpwatch.sources.base import Source
from thpwatch.sources.cgroups import CgroupScan
from thpwatch.sources.procscan import ProcScan


def time_source(source: Source, reps: int) -> dict[str, Any]:
    """Median wall and CPU ms of `reps` collect() calls after a warm-up call (one-off feature
    detection is start-up, not scan cost), and the last call's scan_* samples."""
    walls, cpus = [], []
    out = Emitter()
    source.collect(Emitter())
    for _ in range(reps):
        out = Emitter()
        w0, c0 = time.perf_counter(), time.process_time()
        source.collect(out)
        cpus.append((time.process_time() - c0) * 1e3)
        walls.append((time.perf_counter() - w0) * 1e3)
    samples: dict[str, float] = {}
    for s in out.samples:
        key = s.name + "".join(f",{k}={v}" for k, v in s.labels if k in ("reason", "hierarchy"))
        if "scan_" in s.name and isinstance(s.value, float):
            samples[key] = s.value
    return {
        "wall_ms": statistics.median(walls),
        "cpu_ms": statistics.median(cpus),
        "reps": reps,
        "problems": out.problems,
        "scan": samples,
    }


def scan_cost(processes: bool, cgroups: bool, reps: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if processes:
        result["procscan"] = time_source(ProcScan(), reps)
    if cgroups:
        result["cgroups"] = time_source(CgroupScan(), reps)
    return result
