"""`thpwatch doctor --selftest`: the probes package runs a short real workload (THP faults,
madvise, collapse, splits, swap) and compares, per event kind, what the workload did, what the
kernel counted and what thpwatch's probes counted. This module adapts that to doctor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    event: str
    workload: int
    kernel: int | None  # None: the kernel has no counter for it
    thpwatch: int | None  # None: the probe is not attached (note says why)
    agree: bool | None  # None when one side has no number
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "workload": self.workload,
            "kernel": self.kernel,
            "thpwatch": self.thpwatch,
            "agree": self.agree,
            "note": self.note,
        }


@dataclass(frozen=True)
class SelftestReport:
    rows: tuple[Row, ...]
    skipped: str = ""  # why it did not run

    def disagreements(self) -> list[Row]:
        return [r for r in self.rows if r.agree is False]

    def to_json(self) -> dict[str, Any]:
        return {"ran": not self.skipped, "skipped": self.skipped,
                "rows": [r.to_json() for r in self.rows]}  # fmt: skip


def run_probe_selftest(with_swap: bool = True) -> SelftestReport:
    """The one place doctor runs thpwatch.probes.selftest.run_selftest(with_swap) -> rows with
    .event, .workload, .kernel, .thpwatch, .agree and .note."""
    try:
        from thpwatch.probes.selftest import run_selftest
    except ImportError as e:
        return SelftestReport((), f"the probes' self-test is not part of this build: {e}")
    rows = run_selftest(with_swap=with_swap)
    return SelftestReport(
        tuple(Row(r.event, r.workload, r.kernel, r.thpwatch, r.agree, r.note) for r in rows)
    )
