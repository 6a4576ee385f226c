"""Where one default scrape's CPU goes, in-process (no HTTP): each source of the Snapshot, the
metric families built from it, and the body written by the cached exposition and, for
comparison, by prometheus_client's own encoders (text and OpenMetrics) from the same families.
BPF is loaded through the helper, as the daemon does. Medians of `reps` runs, CPU time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

from thpwatch.assembly import SourceOptions, all_sources
from thpwatch.catalog import catalog
from thpwatch.exporter.exposition import Exposition
from thpwatch.exporter.families import snapshot_families
from thpwatch.sampler import Periodic, Sampler


def _median_ms(f: Callable[[], object], reps: int) -> float:
    spent = []
    for _ in range(reps):
        t0 = time.process_time()
        f()
        spent.append((time.process_time() - t0) * 1e3)
    return statistics.median(spent)


class _Timed:
    """A source whose collect() CPU time is recorded, inside a real Snapshot (sources share
    readings within one Snapshot, so timing them one by one would count shared reads twice)."""

    def __init__(self, source: Any, spent: dict[str, list[float]]) -> None:
        self.source, self.name, self.spent = source, source.name, spent

    def collect(self, out: Any) -> None:
        t0 = time.process_time()
        try:
            self.source.collect(out)
        finally:
            self.spent.setdefault(self.name, []).append((time.process_time() - t0) * 1e3)


class _Fixed:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def run(reps: int = 100) -> dict[str, Any]:
    options = SourceOptions(
        processes=False, cgroups=False, pagetypeinfo_interval=60, bpf_helper=True
    )
    sources = all_sources(Path("/"), options)
    for s in sources:
        if isinstance(s, Periodic):
            s.refresh()
    sampler = Sampler(sources)
    snap = sampler.snapshot()
    metrics = catalog()
    families = snapshot_families(snap, metrics)
    body = _Fixed(families)
    exposition = Exposition()
    om = partial(openmetrics.generate_latest)
    exposition.encode(generate_latest, body)
    exposition.encode(om, body)
    spent: dict[str, list[float]] = {}
    timed = Sampler([_Timed(s, spent) for s in sources])
    try:
        snapshot_ms = _median_ms(timed.snapshot, reps)
        return {
            "samples": sum(len(f.samples) for f in families),
            "snapshot_ms": snapshot_ms,
            "sources_ms": {name: statistics.median(ms) for name, ms in spent.items()},
            "families_ms": _median_ms(lambda: snapshot_families(snap, metrics), reps),
            "exposition_text_ms": _median_ms(
                lambda: exposition.encode(generate_latest, body), reps
            ),
            "exposition_openmetrics_ms": _median_ms(lambda: exposition.encode(om, body), reps),
            "prometheus_client_text_ms": _median_ms(lambda: generate_latest(body), reps),
            "prometheus_client_openmetrics_ms": _median_ms(lambda: om(body), reps),
        }
    finally:
        for s in sources:
            close = getattr(s, "close", None)
            if close:
                close()
