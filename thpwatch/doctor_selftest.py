"""`thpwatch doctor --selftest`: the probes package runs a short real workload (THP faults,
madvise, collapse, splits, swap) and compares, per event kind, what the workload did, what the
kernel counted and what thpwatch's probes counted. This module adapts that to doctor."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thpwatch.probes.selftest import SelftestRow


@dataclass(frozen=True)
class SelftestReport:
    rows: tuple[SelftestRow, ...]
    skipped: str = ""  # why it did not run

    def disagreements(self) -> list[SelftestRow]:
        return [r for r in self.rows if r.agree is False]

    def to_json(self) -> dict[str, Any]:
        return {"ran": not self.skipped, "skipped": self.skipped,
                "rows": [asdict(r) for r in self.rows]}  # fmt: skip


def run_probe_selftest(with_swap: bool = True) -> SelftestReport:
    """The one place doctor runs the probes' self-test."""
    # Imported here: the workloads and the BPF loader are only worth loading for --selftest.
    from thpwatch.probes.selftest import run_selftest

    return SelftestReport(tuple(run_selftest(with_swap=with_swap)))
