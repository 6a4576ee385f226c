"""doctor --selftest rows on the real kernel: tracepoint-backed events agree with the kernel,
function-probe rows either agree or say why thpwatch has no number."""

from __future__ import annotations

import pytest

from thpwatch import workload
from thpwatch.probes.selftest import run_selftest

pytestmark = pytest.mark.bpf


def test_selftest_rows(bpf_ready: None) -> None:
    rows = {r.event: r for r in run_selftest(with_swap=True)}
    assert workload.active_swaps() == [] or all(
        "thpwatch" not in s for s in workload.active_swaps()
    )
    pmd = rows["THP fault 2048kB (allocations of order 9)"]
    assert pmd.workload == 32 and pmd.agree, pmd
    madvise = [r for e, r in rows.items() if e.startswith("madvise ")]
    assert len(madvise) == 5 and all(r.agree and r.thpwatch == r.workload for r in madvise)
    assert rows["MADV_COLLAPSE collapses"].agree
    for event in (
        "PMD fault handler calls",
        "PMD splits",
        "folio splits",
        "swap-in (pages read back)",
    ):
        r = rows[event]
        assert r.kernel and r.kernel > 0, r
        assert r.agree or (r.thpwatch is None and r.note), r
    swapout = next(r for e, r in rows.items() if e.startswith("THP swap-out"))
    assert swapout.kernel and swapout.kernel > 0
