"""Rates and ratios between two Snapshots: the only place sinks get per-second values from."""

from __future__ import annotations

from thpwatch.catalog import catalog
from thpwatch.snapshot import Histogram, Labels, Snapshot


def counter_rates(earlier: Snapshot, later: Snapshot) -> dict[tuple[str, Labels], float]:
    """Per-second increase of every counter present in both snapshots.

    A counter that went down (kernel counter reset, probe re-attached) restarts from zero, as
    Prometheus' rate() treats it.
    """
    elapsed = later.monotonic - earlier.monotonic
    if elapsed <= 0:
        return {}
    cat = catalog()
    out: dict[tuple[str, Labels], float] = {}
    for s in later.samples:
        metric = cat.lookup(s.name)
        if metric is None or metric.type != "counter" or isinstance(s.value, Histogram):
            continue
        before = earlier.get(s.name, **dict(s.labels))
        if before is None or isinstance(before, Histogram):
            continue
        delta = s.value - before if s.value >= before else s.value
        out[(s.name, s.labels)] = delta / elapsed
    return out


def histogram_deltas(earlier: Snapshot, later: Snapshot) -> dict[tuple[str, Labels], Histogram]:
    """Observations each histogram gained between the two snapshots."""
    out: dict[tuple[str, Labels], Histogram] = {}
    for s in later.samples:
        if not isinstance(s.value, Histogram):
            continue
        before = earlier.get(s.name, **dict(s.labels))
        if isinstance(before, Histogram) and before.count <= s.value.count:
            out[(s.name, s.labels)] = s.value.minus(before)
        else:
            out[(s.name, s.labels)] = s.value
    return out


def ratio(part: float | None, whole: float | None) -> float | None:
    """part / whole, or None when there is nothing to divide (never a fake zero)."""
    if part is None or whole is None or whole == 0:
        return None
    return part / whole
