"""What the sources over kernel files share: where they read (the Snapshot's shared readings or
their own root), and how their metrics are declared and named."""

from __future__ import annotations

from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.readings import KernelReadings
from thpwatch.kernel.text import Mode
from thpwatch.metric import Metric


def gauge(name: str, help: str, labels: tuple[str, ...] = (), unit: str = "") -> Metric:
    return Metric(name, "gauge", help, labels, unit)


def counter(name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
    return Metric(name, "counter", help, labels)


def stat_metric(family: str, stat: str) -> str:
    """The metric of a vmstat line or mTHP stat file: thpwatch_mthp_nr_anon (a gauge),
    thpwatch_mthp_anon_fault_alloc_total (a counter)."""
    return (
        f"thpwatch_{family}_{stat}"
        if facts.is_gauge_stat(stat)
        else f"thpwatch_{family}_{stat}_total"
    )


def emit_mode(out: Emitter, metric: Metric, mode: Mode, **labels: str) -> None:
    """A mode file ("always [madvise] never") as one 0/1 sample per choice, 1 for the current."""
    for choice in mode.choices:
        out.add(metric, float(choice == mode.current), mode=choice, **labels)


class FromReadings:
    """A source over files that other sources read too (shared once per Snapshot)."""

    def __init__(self, readings: KernelReadings) -> None:
        self.readings = readings


class FromRoot:
    """A source over files only it reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
