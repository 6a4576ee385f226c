"""Measure what a PMD THP fault adds to this process's page tables (VmPTE).

Kernels that deposit a PTE table with every anonymous PMD THP grow VmPTE by 4 KiB per THP; with
the lazy-PTE series they do not (docs/kernel-facts.md#lazy-pte: 64 THPs, +256 KiB vs +0).
This faults a few THPs in this very process (workload's region), so it only describes the
running kernel, and frees them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch import workload
from thpwatch.kernel import facts
from thpwatch.kernel.pid_status import kb_field_bytes

PROC_SELF = Path("/proc/self")


@dataclass(frozen=True)
class VmpteGrowth:
    thps: int  # PMD THPs the kernel gave the test region
    vmpte_bytes: int  # how much VmPTE grew meanwhile


def _field(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(":")
        if name == key:
            size = kb_field_bytes(value)
            if size is not None:
                return size
    raise ValueError(f"{path}: no {key} line in kB")


def _reading() -> tuple[int, int]:
    # smaps_rollup walks only this process, which has no PUD THP: nothing to split.
    return (
        _field(PROC_SELF / facts.PROC_PID_STATUS, facts.STATUS_VMPTE),
        _field(PROC_SELF / "smaps_rollup", facts.SMAPS_ANON_HUGE),
    )


def measure_vmpte_growth(thps: int = 32) -> VmpteGrowth:
    """Fault up to `thps` MADV_HUGEPAGE PMD THPs and report VmPTE growth. Raises OSError."""
    vmpte_before, huge_before = _reading()
    size = facts.PMD_THP_BYTES
    with workload.Region(thps * size, size) as region:
        region.madvise(facts.MADV_HUGEPAGE, workload.Did("vmpte_selftest"))
        region.write(size)
        vmpte_after, huge_after = _reading()
    return VmpteGrowth((huge_after - huge_before) // size, vmpte_after - vmpte_before)
