"""The prometheus_client collector: a fresh Snapshot rendered on every scrape."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric as Family
from prometheus_client.registry import Collector

from thpwatch.catalog import Catalog, catalog
from thpwatch.exporter.families import snapshot_families
from thpwatch.exporter.fresh import SharedFresh
from thpwatch.exporter.self_metrics import SCRAPE_DURATION
from thpwatch.sampler import Sampler
from thpwatch.snapshot import Snapshot


class SnapshotCollector(Collector):
    """Renders, for each collect() call, a Snapshot taken after the call began.

    Snapshots are taken one at a time (sources such as BPF map reads are not written for
    concurrent use); scrapes that arrive together share one (see SharedFresh).
    """

    def __init__(self, sampler: Sampler, metric_catalog: Catalog | None = None) -> None:
        self.sampler = sampler
        self.catalog = metric_catalog or catalog()
        self._fresh = SharedFresh(sampler.snapshot)

    def snapshot(self) -> Snapshot:
        return self._fresh.get()

    def collect(self) -> Iterator[Family]:
        start = time.perf_counter()
        families = snapshot_families(self.snapshot(), self.catalog)
        took = GaugeMetricFamily(
            SCRAPE_DURATION.name, SCRAPE_DURATION.help, unit=SCRAPE_DURATION.unit
        )
        took.add_metric([], time.perf_counter() - start)
        yield from families
        yield took

    def describe(self) -> Iterator[Family]:
        # Families depend on what this kernel has; an empty describe() stops the registry from
        # calling collect() (reading the kernel) at registration time.
        return iter(())
