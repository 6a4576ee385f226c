"""The file sources on this machine's real /sys and /proc (root), around a real THP workload.

Other processes may fault THPs at the same time, so each Snapshot value is checked against
direct reads of the same kernel file taken just before and just after it (a monotonic counter
must lie between them; with no noise the three are equal), and the workload's own share is
confirmed from its own smaps entry.
"""

from __future__ import annotations

import ctypes
import json
import mmap
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import require

from thpwatch.assembly import build_sources
from thpwatch.sampler import Sampler
from thpwatch.snapshot import Snapshot, State

pytestmark = pytest.mark.live

THP = Path("/sys/kernel/mm/transparent_hugepage")
PMD = 2 << 20
WORKLOAD = 64 << 20  # 32 PMD THPs


def vmstat(name: str) -> int:
    for line in Path("/proc/vmstat").read_text().splitlines():
        key, value = line.split()
        if key == name:
            return int(value)
    raise KeyError(name)


def pmd_fault_alloc() -> int:
    return int((THP / "hugepages-2048kB/stats/anon_fault_alloc").read_text())


def bracketed(sampler: Sampler) -> tuple[dict[str, int], Snapshot, dict[str, int]]:
    def direct() -> dict[str, int]:
        return {"thp_fault_alloc": vmstat("thp_fault_alloc"), "pmd_fault_alloc": pmd_fault_alloc()}

    before = direct()
    snap = sampler.snapshot()
    return before, snap, direct()


def snapshot_counters(snap: Snapshot) -> dict[str, float | None]:
    return {
        "thp_fault_alloc": snap.get("thpwatch_vmstat_thp_fault_alloc_total"),
        "pmd_fault_alloc": snap.get("thpwatch_mthp_anon_fault_alloc_total", size="2048kB"),
    }


@contextmanager
def thp_workload() -> Iterator[int]:
    """A private anonymous 64 MiB region, MADV_HUGEPAGE, PMD-aligned, every page touched.
    Yields its address; unmapped on exit."""
    mm = mmap.mmap(-1, WORKLOAD + PMD, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    anchor = ctypes.c_char.from_buffer(mm)
    base = ctypes.addressof(anchor)
    del anchor  # mm cannot be closed while a ctypes view exports its buffer
    offset = -base % PMD
    mm.madvise(mmap.MADV_HUGEPAGE, offset, WORKLOAD)
    for i in range(offset, offset + WORKLOAD, mmap.PAGESIZE):
        mm[i] = 1
    try:
        yield base + offset
    finally:
        mm.close()


def own_anon_huge_kb(address: int) -> int:
    """AnonHugePages of this process's VMA containing address (its own smaps)."""
    inside = False
    for line in Path(f"/proc/{os.getpid()}/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and ":" not in head:
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    raise AssertionError("workload VMA not found in smaps")


def test_counters_move_by_what_the_kernel_files_say(root_user):
    require(
        "[never]" not in (THP / "enabled").read_text(), "THP disabled (enabled=never) on this host"
    )
    sampler = Sampler(build_sources(Path("/"), lazy_pte=lambda: False))
    lo1, snap1, hi1 = bracketed(sampler)
    with thp_workload() as address:
        lo2, snap2, hi2 = bracketed(sampler)
        own = own_anon_huge_kb(address)
        anon_bytes = snap2.get("thpwatch_meminfo_anon_huge_pages_bytes")
    assert own == WORKLOAD // 1024, "the workload did not get 32 PMD THPs"
    for lo, snap, hi in ((lo1, snap1, hi1), (lo2, snap2, hi2)):
        got = snapshot_counters(snap)
        for name in lo:
            assert lo[name] <= got[name] <= hi[name], (name, lo[name], got[name], hi[name])
    moved = {name: snapshot_counters(snap2)[name] - snapshot_counters(snap1)[name] for name in lo1}
    # Our 32 faults are in the delta; others' faults between the snapshots can only add.
    assert all(delta >= WORKLOAD // PMD for delta in moved.values()), moved
    assert moved["thp_fault_alloc"] <= hi2["thp_fault_alloc"] - lo1["thp_fault_alloc"]
    assert anon_bytes >= WORKLOAD


def test_snapshot_mirrors_sysfs_and_proc(root_user):
    snap = Sampler(build_sources(Path("/"), lazy_pte=lambda: False)).snapshot()
    for name in ("thp_settings", "mthp", "vmstat", "meminfo", "pagetypeinfo", "checks"):
        assert snap.status(name).state is State.OK, snap.status(name)
    sizes = {p.name.removeprefix("hugepages-") for p in THP.glob("hugepages-*kB")}
    assert {s.label("size") for s in snap.samples if s.name.startswith("thpwatch_mthp_")} == sizes
    anon_sizes = {p.parent.name.removeprefix("hugepages-") for p in THP.glob("hugepages-*/enabled")}
    assert {s.label("size") for s in snap.series("thpwatch_mthp_enabled")} == anon_sizes
    current = (THP / "enabled").read_text().split("[")[1].split("]")[0]
    assert snap.get("thpwatch_thp_enabled", mode=current) == 1.0
    assert snap.get("thpwatch_thp_pmd_size_bytes") == int((THP / "hpage_pmd_size").read_text())
    # Zone spans do not change at run time: the pageblock total is exact.
    table = Path("/proc/pagetypeinfo").read_text().split("Number of blocks type")[1]
    rows = [line.split()[4:] for line in table.splitlines()[1:] if line.startswith("Node")]
    direct = sum(int(x) for row in rows for x in row)
    assert sum(s.value for s in snap.series("thpwatch_pageblocks")) == direct


def test_reserved_pool_absent_on_stock_kernel(root_user):
    snap = Sampler(build_sources(Path("/"))).snapshot()
    status = snap.status("reserved_thp")
    if Path("/sys/kernel/mm/reserved_thp").is_dir():
        assert status.state is State.OK
        total = int(Path("/sys/kernel/mm/reserved_thp/total_hpages").read_text())
        assert snap.get("thpwatch_reserved_thp_pool_hpages") == total
    else:
        assert status.state is State.ABSENT
        assert "reserved_thp" in status.reason
        assert not any(s.name.startswith("thpwatch_reserved_thp_pool") for s in snap.samples)
        assert not any(s.name == "thpwatch_check_violation" for s in snap.samples)


NOBODY = 65534
UNPRIVILEGED_SNAPSHOT = """
import json
from pathlib import Path
from thpwatch.assembly import build_sources
from thpwatch.sampler import Sampler
snap = Sampler(build_sources(Path("/"), lazy_pte=lambda: False)).snapshot()
print(json.dumps({st.name: [st.state.value, st.reason] for st in snap.statuses}))
"""


def test_without_root_pagetypeinfo_is_blocked_and_the_rest_works(root_user):
    done = subprocess.run(
        [sys.executable, "-c", UNPRIVILEGED_SNAPSHOT],
        preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)),
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    states = json.loads(done.stdout)
    assert states["pagetypeinfo"] == [
        "blocked",
        "/proc/pagetypeinfo: permission denied (root can read it)",
    ]
    for name in ("thp_settings", "mthp", "vmstat", "meminfo", "checks"):
        assert states[name][0] == "ok", (name, states[name])
