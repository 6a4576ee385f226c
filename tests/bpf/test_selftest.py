"""doctor --selftest rows on the real kernel: tracepoint-backed events agree with the kernel,
function-probe rows either agree or say why thpwatch has no number."""

from __future__ import annotations

import pytest

from thpwatch import workload
from thpwatch.probes.selftest import run_selftest

pytestmark = pytest.mark.bpf


def test_selftest_rows(bpf_ready: None) -> None:
    swaps = workload.active_swaps()
    rows = {r.event: r for r in run_selftest(with_swap=True)}
    assert workload.active_swaps() == swaps  # the temporary swap is gone again
    pmd = rows["THP fault 2048kB (allocations of order 9)"]
    assert pmd.workload == 32 and pmd.agree, pmd
    madvise = [r for e, r in rows.items() if e.startswith("madvise ")]
    assert len(madvise) == 5 and all(r.agree and r.thpwatch == r.workload for r in madvise)
    assert rows["MADV_COLLAPSE collapses"].agree
    function_rows = ("pmd_anon fault handler calls (2048kB)", "PMD splits", "folio splits")
    for event in (*function_rows, "swap-in (pages read back)"):
        r = rows[event]
        assert r.kernel and r.kernel > 0, r
        assert r.agree or (r.thpwatch is None and r.note), r
    swapout = next(r for e, r in rows.items() if e.startswith("THP swap-out"))
    assert swapout.kernel and swapout.kernel > 0
