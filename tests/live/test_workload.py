"""The workload module on the real kernel (root): it does what it reports, and a temporary
swap is always removed, also when the block fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from thpwatch import swapdev, workload
from thpwatch.kernel.mthp import read_mthp
from thpwatch.kernel.vmstat import read_vmstat

pytestmark = pytest.mark.live


def test_temporary_swap_is_removed_even_after_an_error(root_user: None) -> None:
    before = swapdev.active_swaps()
    with pytest.raises(RuntimeError), swapdev.temporary_swap(size_mb=64) as device:
        assert device in swapdev.active_swaps()
        raise RuntimeError("the block failed")
    assert swapdev.active_swaps() == before
    if device == "/dev/zram0":
        assert (swapdev.ZRAM / "disksize").read_text().strip() == "0"
    else:
        assert not Path(device).exists()


def test_pageout_then_retouch_swaps_out_and_in(root_user: None) -> None:
    with swapdev.temporary_swap(size_mb=256):
        vm0 = read_vmstat(Path("/"))
        did = workload.pageout_retouch(thps=8)
        vm1 = read_vmstat(Path("/"))
    assert did.madvise_calls[("pageout", "ok")] == 1
    assert vm1.get("pswpout") - vm0.get("pswpout") >= did.counts["pages_written"] // 2
    assert vm1.get("pswpin") > vm0.get("pswpin")


def test_thp_faults_of_each_enabled_size(root_user: None) -> None:
    sizes = workload.enabled_thp_sizes()
    assert sizes, "no THP size enabled for MADV_HUGEPAGE regions"

    def allocs() -> dict[str, int]:
        return {s.size: s.stat("anon_fault_alloc") or 0 for s in read_mthp(Path("/")).sizes}

    before = allocs()
    did = workload.thp_faults_every_size(count=4)
    after = allocs()
    for size in sizes:
        label = f"{size // 1024}kB"
        n = workload.thp_count(size, 4)
        assert did.counts[f"thps_{label}"] == n
        assert after[label] - before[label] >= n, label
