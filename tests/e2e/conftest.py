"""Fixtures for the end-to-end tests: a real Prometheus and real `thpwatch run` processes.

    def test_x(prometheus, thpwatch_exporter):
        exporter = thpwatch_exporter("--no-bpf")
        prom = prometheus([scrape_config("thpwatch", exporter.target)])
        prom.wait_for_scrapes("thpwatch")
        prom.query("thpwatch_source_state")

Both factories stop what they started at the end of the test. Tests using them need the
`prometheus` binary (scripts/setup installs Debian's package): require() makes a missing one a
skip locally and a failure under THPWATCH_STRICT=1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import require

from e2e.harness import (
    Exporter,
    Prometheus,
    prometheus_binary,
    start_exporter,
    start_prometheus,
)


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
