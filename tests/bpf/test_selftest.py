"""doctor --selftest rows on the real kernel: tracepoint-backed events agree with the kernel,
function-probe rows either agree (equal counts of one unit, or a bound the row names) or say why
thpwatch has no number."""

from __future__ import annotations

import pytest

from thpwatch import swapdev
from thpwatch.probes.selftest import run_selftest

pytestmark = pytest.mark.bpf


def test_selftest_rows(bpf_ready: None) -> None:
    swaps = swapdev.active_swaps()
    rows = {r.event: r for r in run_selftest(with_swap=True)}
    assert swapdev.active_swaps() == swaps  # the temporary swap is gone again
    pmd = rows["THP fault 2048kB (allocations of order 9)"]
    assert pmd.workload == 32 and pmd.agree, pmd
    madvise = [r for e, r in rows.items() if e.startswith("madvise ")]
    assert len(madvise) == 5 and all(r.agree and r.thpwatch == r.workload for r in madvise)
    assert rows["MADV_COLLAPSE collapses"].agree
    function_rows = ("pmd_anon fault handler calls (2048kB)", "PMD splits", "folio splits")
    swap_reads = "PTE-level swap reads (pswpin less large-folio reads)"
    for event in (*function_rows, swap_reads):
        r = rows[event]
        assert r.kernel and r.kernel > 0, r
        assert r.agree or (r.thpwatch is None and r.note), r
        if r.agree and "bound" not in r.note:
            assert abs(r.thpwatch - r.kernel) <= r.kernel // 100, r  # same unit, same count
    # each folio split of a PMD-mapped THP splits its PMD first: 8 by munmap + 8 in folio splits
    assert rows["PMD splits"].workload == 16
    swapout = next(r for e, r in rows.items() if e.startswith("THP swap-out"))
    assert swapout.kernel and swapout.kernel > 0
