"""Small sources and a catalog of their own, so the exporter is tested apart from the readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from thpwatch.catalog import Catalog
from thpwatch.emitter import Emitter
from thpwatch.kernel.errors import KernelFileError
from thpwatch.metric import Metric
from thpwatch.snapshot import Histogram
from thpwatch.sources.base import SourceAbsent
from thpwatch.status_metrics import METRICS as STATUS_METRICS

TEST_METRICS = (
    Metric("thpwatch_test_pool_hpages", "gauge", "Pool size read from a file.", ()),
    Metric("thpwatch_test_events_total", "counter", "Events, per size.", ("size",)),
    Metric("thpwatch_test_fault_seconds", "histogram", "Latency.", ("fault",), "seconds"),
    Metric("thpwatch_test_kernel_info", "info", "Kernel facts.", ("release",)),
)


@pytest.fixture
def test_catalog() -> Catalog:
    from thpwatch.exporter.self_metrics import METRICS as SELF_METRICS

    return Catalog([*STATUS_METRICS, *SELF_METRICS, *TEST_METRICS], [])


class PoolFileSource:
    """Reads root/pool (one integer), like a sysfs reader does; the file may vanish."""

    name = "pool"

    def __init__(self, root: Path) -> None:
        self.path = root / "pool"
        self.closed = False

    def collect(self, out: Emitter) -> None:
        if not self.path.parent.exists():
            raise SourceAbsent(f"{self.path.parent} does not exist")
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            raise KernelFileError(self.path, "vanished") from None
        out.add("thpwatch_test_pool_hpages", float(text))

    def close(self) -> None:
        self.closed = True


class FixedSource:
    """Emits one of each metric type, and one probe status."""

    name = "fixed"

    def collect(self, out: Emitter) -> None:
        from thpwatch.snapshot import SourceStatus, State

        out.add("thpwatch_test_events_total", 7, size="2048kB")
        out.add("thpwatch_test_events_total", 3, size="64kB")
        out.add(
            "thpwatch_test_fault_seconds",
            Histogram((1e-06, 0.001, 1.0), (1, 4, 5), 6, 2.5),
            fault="pmd_anon",
        )
        out.add("thpwatch_test_kernel_info", 1, release="6.18.0")
        out.status(SourceStatus("pmd_fault", "probe", State.BLOCKED, "EPERM"))


@pytest.fixture
def pool_root(tmp_path: Path) -> Path:
    (tmp_path / "pool").write_text("12\n")
    return tmp_path
