"""Growth of the scrape cost: concurrent scrapers (1, 2, 10) against one default `thpwatch run`,
and the per-size cost of the mTHP files (in-process), so the cost on other hosts can be
predicted. Scrapers that arrive together share one Snapshot (exporter/fresh.py) but each body is
rendered for its own request."""

from __future__ import annotations

import statistics
import struct
import time
from pathlib import Path
from typing import Any

from bench import daemons, procstat
from bench.load import run_load
from thpwatch.kernel.mthp import MthpReader
from thpwatch.probes.maps import percpu_hists

SCRAPERS = (1, 2, 10)


def scrapers(total: int) -> list[dict[str, Any]]:
    rows = []
    with daemons.thpwatch() as tw:
        run_load(tw.url, 1, 5)  # warm
        for n in SCRAPERS:
            cpu0 = procstat.cpu_seconds(tw.pid)
            r = run_load(tw.url, n, max(1, total // n))
            cpu = procstat.cpu_seconds(tw.pid) - cpu0
            rows.append(
                {
                    "scrapers": n,
                    "requests": r.requests,
                    "errors": r.errors,
                    "p50_ms": r.p50_ms,
                    "p99_ms": r.p99_ms,
                    "cpu_ms_per_request": cpu * 1e3 / r.requests,
                    "requests_per_second": r.requests / r.seconds,
                }
            )
    return rows


def mthp_sizes(reps: int) -> list[dict[str, Any]]:
    reader = MthpReader(Path("/"))
    reader.read()
    layout = reader._layout  # the discovered sizes, read k at a time below
    rows = []
    for k in range(1, len(layout) + 1):
        reader._layout = layout[:k]
        cpu = []
        for _ in range(reps):
            t0 = time.process_time()
            reading = reader.read()
            cpu.append((time.process_time() - t0) * 1e3)
        files = sum(len(s.stats) + 2 for s in reading.sizes)
        rows.append({"sizes": k, "files": files, "cpu_ms": statistics.median(cpu)})
    reader.close()
    return rows


class _PerCpuHistograms:
    """The byte layout of a per-CPU histogram map (struct thpw_hist per possible CPU) as the
    bpf() batch lookup returns it, for a host with `cpus` CPUs (this one has few)."""

    def __init__(self, cpus: int, count: int) -> None:
        self.cpus, self.value_stride = cpus, 512
        self.values = [(struct.pack("=I", i), bytes(512 * cpus)) for i in range(count)]

    def entries(self) -> list[tuple[bytes, bytes]]:
        return self.values


def percpu_sums(reps: int) -> list[dict[str, Any]]:
    """CPU to sum the 10 latency histograms of the default function probes (2 stall, 5 fault,
    3 split) over 2..512 possible CPUs: the part of a map read that grows with the host."""
    rows = []
    for cpus in (2, 64, 256, 512):
        m = _PerCpuHistograms(cpus, 10)
        cpu = []
        for _ in range(reps):
            t0 = time.process_time()
            percpu_hists(m)  # type: ignore[arg-type]
            cpu.append((time.process_time() - t0) * 1e3)
        rows.append({"cpus": cpus, "cpu_ms": statistics.median(cpu)})
    return rows


def run(total: int = 200, reps: int = 50) -> dict[str, Any]:
    return {
        "scrapers": scrapers(total),
        "mthp_sizes": mthp_sizes(reps),
        "percpu_histograms": percpu_sums(reps),
    }
