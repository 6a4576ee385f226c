"""pytest plugin of the in-guest tests (guest.sh loads it with -p): their fixtures. A plugin,
not a conftest.py, so that host pytest never imports anything from this directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from thpcli import Exporter
from workload import write_sysfs


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    """One daemon for the whole boot: BPF compiles once. The process scan runs every 5 s."""
    daemon = Exporter("--processes", "--scan-interval", "5", "--enable-probe", "alloc")
    daemon.wait_ready()
    yield daemon
    daemon.stop()


@pytest.fixture
def sysfs() -> Iterator[Callable[[str, str], None]]:
    """Set sysfs knobs for one test; every one is restored afterwards."""
    saved: list[tuple[str, str]] = []

    def set_knob(path: str, value: str) -> None:
        saved.append((path, write_sysfs(path, value)))

    yield set_knob
    for path, old in reversed(saved):
        write_sysfs(path, old)
