"""Fixtures for the end-to-end tests: a real Prometheus and real `thpwatch run` processes.

    def test_x(prometheus, thpwatch_exporter):
        exporter = thpwatch_exporter("--no-bpf")
        prom = prometheus([scrape_config("thpwatch", exporter.target)])
        prom.wait_for_scrapes("thpwatch")
        prom.query("thpwatch_source_state")

Both factories stop what they started at the end of the test. `scraped_targets` (module scope)
is one Prometheus that already scraped a live and a patched-fixture exporter: for running many
queries (dashboards, rules). Tests using them need the
`prometheus` binary (scripts/setup installs Debian's package): require() makes a missing one a
skip locally and a failure under THPWATCH_STRICT=1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, require

from bench.daemons import Exporter, start_exporter
from e2e.harness import Prometheus, prometheus_binary, scrape_config, start_prometheus

PATCHED = FIXTURES / "patched"


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[..., Prometheus]]:
    require(prometheus_binary(), "needs the prometheus binary (Debian package prometheus)")
    started: list[Prometheus] = []

    def start(scrape_configs: list[dict[str, Any]], **kw: Any) -> Prometheus:
        prom = start_prometheus(tmp_path / f"prometheus-{len(started)}", scrape_configs, **kw)
        started.append(prom)
        return prom

    yield start
    for prom in started:
        prom.stop()


@pytest.fixture
def thpwatch_exporter(tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def start(*args: str, **kw: Any) -> Exporter:
        exporter = start_exporter(tmp_path / "exporters", *args, **kw)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.stop()


@dataclass
class ScrapedTargets:
    """A Prometheus that has scraped a live-host exporter and a patched-fixture exporter."""

    prometheus: Prometheus
    exporters: dict[str, Exporter]  # job name -> exporter

    def jobs(self) -> list[str]:
        return list(self.exporters)


@pytest.fixture(scope="module")
def scraped_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScrapedTargets]:
    """One Prometheus for a whole test module, scraping every 1 s:

    job "thpwatch-live"     the running host, every source on (BPF with the opt-in alloc
                            probe, processes, cgroups)
    job "thpwatch-patched"  tests/fixtures/patched (a kernel with all four series), no BPF

    Each job has been scraped at least three times when the fixture is handed over, so rate()
    and increase() over a few seconds have points. For dashboard and rule queries.
    """
    require(prometheus_binary(), "needs the prometheus binary (Debian package prometheus)")
    require(os.geteuid() == 0, "needs root (the live exporter reads what the daemon reads)")
    require(PATCHED.is_dir(), f"needs the patched fixture tree {PATCHED}")
    workdir = tmp_path_factory.mktemp("scraped")
    everything = ("--processes", "--cgroups")
    exporters: dict[str, Exporter] = {}
    prom = None
    try:
        exporters["thpwatch-live"] = start_exporter(workdir, *everything, "--enable-probe", "alloc")
        exporters["thpwatch-patched"] = start_exporter(workdir, "--root", str(PATCHED), *everything)
        prom = start_prometheus(
            workdir / "prometheus",
            [scrape_config(job, e.target) for job, e in exporters.items()],
        )
        for job in exporters:
            prom.wait_for_scrapes(job, count=3)
        yield ScrapedTargets(prom, exporters)
    finally:
        if prom is not None:
            prom.stop()
        for exporter in exporters.values():
            exporter.stop()
