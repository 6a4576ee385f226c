"""The core types: Snapshot lookups, histograms, the sampler's error containment, rates."""

from __future__ import annotations

import pytest

from thpwatch.emitter import Emitter
from thpwatch.kernel.errors import KernelFileError
from thpwatch.metric import Metric
from thpwatch.rates import ratio
from thpwatch.sampler import Periodic, Sampler
from thpwatch.snapshot import Histogram, Sample, Snapshot, State, labels_of
from thpwatch.sources.base import SourceAbsent


class FixedSource:
    def __init__(self, name, fn):
        self.name, self.fn = name, fn
        self.calls = 0

    def collect(self, out: Emitter) -> None:
        self.calls += 1
        self.fn(out)


def test_snapshot_get_and_series():
    s = Snapshot(
        1.0,
        1.0,
        (
            Sample("thpwatch_x_total", labels_of(size="2048kB"), 3.0),
            Sample("thpwatch_x_total", labels_of(size="64kB"), 5.0),
        ),
        (),
    )
    assert s.get("thpwatch_x_total", size="64kB") == 5.0
    assert s.get("thpwatch_x_total", size="1048576kB") is None
    assert [x.value for x in s.series("thpwatch_x_total")] == [3.0, 5.0]


def test_histogram_quantile_and_minus():
    h = Histogram((0.001, 0.01, 0.1), (10, 90, 100), 100, 1.5)
    assert h.quantile(0.5) == pytest.approx(0.001 + 0.009 * 40 / 80)
    assert h.quantile(1.0) == pytest.approx(0.1)
    d = h.minus(Histogram((0.001, 0.01, 0.1), (5, 5, 5), 5, 0.5))
    assert d.cumulative == (5, 85, 95) and d.count == 95
    assert Histogram((1.0,), (0,), 0, 0.0).quantile(0.5) is None


def test_sampler_contains_every_failure_kind():
    def ok(out):
        out.add("thpwatch_a", 1.0)

    def absent(out):
        raise SourceAbsent("/sys/kernel/mm/reserved_thp: not on this kernel")

    def bad(out):
        out.add("thpwatch_b", 2.0)
        raise KernelFileError("/proc/vmstat", "line 3: not 'name value'")

    def bug(out):
        raise ZeroDivisionError("oops")

    snap = Sampler(
        [
            FixedSource("ok", ok),
            FixedSource("absent", absent),
            FixedSource("bad", bad),
            FixedSource("bug", bug),
        ]
    ).snapshot()
    assert snap.status("ok").state is State.OK
    assert snap.status("absent").state is State.ABSENT
    bad_status = snap.status("bad")
    assert bad_status.state is State.ERROR and "/proc/vmstat: line 3" in bad_status.reason
    assert snap.get("thpwatch_b") == 2.0  # what was read before the error is kept
    assert "ZeroDivisionError" in snap.status("bug").reason


def test_periodic_serves_cached_result_with_age():
    src = FixedSource("scan", lambda out: out.add("thpwatch_c", 7.0))
    periodic = Periodic(src, interval=3600)
    sampler = Sampler([periodic])
    first, second = sampler.snapshot(), sampler.snapshot()
    assert src.calls == 1
    assert second.get("thpwatch_c") == 7.0
    assert second.get("thpwatch_source_age_seconds", source="scan") >= 0.0
    assert first.status("scan").state is State.OK


def test_metric_naming_rules_are_enforced():
    with pytest.raises(ValueError, match="_total"):
        Metric("thpwatch_faults", "counter", "x")
    with pytest.raises(ValueError, match="_total"):
        Metric("thpwatch_pool_total", "gauge", "x")
    with pytest.raises(ValueError, match="_bytes"):
        Metric("thpwatch_pool", "gauge", "x", unit="bytes")


def test_ratio_never_invents_a_zero():
    assert ratio(1, 0) is None and ratio(None, 3) is None and ratio(1, 4) == 0.25
