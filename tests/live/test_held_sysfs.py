"""Sysfs counters held open and re-read from offset 0 (kernel/heldfiles.py) move with the
kernel: our own THP faults are in the delta, and a fresh open/read right after is not behind."""

from __future__ import annotations

from pathlib import Path

from conftest import require

from thpwatch import workload
from thpwatch.kernel.heldfiles import HeldFiles

THP = Path("/sys/kernel/mm/transparent_hugepage")
STATS = THP / "hugepages-2048kB/stats"
FAULTS = ("anon_fault_alloc", "anon_fault_fallback")  # every PMD fault ends in one of them


def test_held_counters_move_with_the_kernel(root_user: None) -> None:
    require(STATS.is_dir(), "no per-size THP stats (kernel before 6.8)")
    require("[never]" not in (THP / "enabled").read_text(), "THP disabled on this host")
    files = HeldFiles()
    before = sum(int(files.text(STATS / f)) for f in FAULTS)
    did = workload.thp_faults(count=8)
    held = sum(int(files.text(STATS / f)) for f in FAULTS)
    fresh = sum(int((STATS / f).read_text()) for f in FAULTS)
    assert before + did.counts["thps"] <= held <= fresh  # others' faults can only add
    assert len(files) == len(FAULTS)
