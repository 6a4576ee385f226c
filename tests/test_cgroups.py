"""Per-cgroup THP memory: v2 (stock fixture), v1 hybrid (patched fixture), malformed, live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import FIXTURES, require

from thpwatch.catalog import catalog
from thpwatch.sampler import run_source
from thpwatch.snapshot import Snapshot, State
from thpwatch.sources.cgroups import CgroupScan

MiB = 1 << 20


def scan(root: Path, **kw):
    samples, (status, *_) = run_source(CgroupScan(root, **kw))
    assert all(s.name in catalog() for s in samples)
    return Snapshot(0, 0, tuple(samples), ()), status


def test_v2_tree():
    snap, status = scan(FIXTURES / "stock")
    assert status.state is State.OK, status.reason
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v2") == 5  # init.scope has none
    pg = "/system.slice/postgresql.service"
    assert snap.get("thpwatch_cgroup_anon_thp_bytes", cgroup=pg) == 1024 * MiB
    assert snap.get("thpwatch_cgroup_thp_fault_alloc_total", cgroup=pg) == 512
    assert snap.get("thpwatch_cgroup_thp_collapse_alloc_total", cgroup="/") == 20
    assert snap.get("thpwatch_cgroup_shmem_thp_bytes", cgroup="/user.slice") == 2 * MiB
    assert snap.get("thpwatch_cgroup_v1_rss_huge_bytes", cgroup="/") is None


def test_top_n_by_anon_thp():
    snap, _ = scan(FIXTURES / "stock", top=2)
    cgroups = {s.label("cgroup") for s in snap.series("thpwatch_cgroup_anon_thp_bytes")}
    assert cgroups == {"/", "/system.slice"}


def test_v1_hybrid_tree():
    snap, status = scan(FIXTURES / "patched")
    assert status.state is State.OK
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v1") == 4
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v2") is None  # hugetlb only
    assert snap.get("thpwatch_cgroup_v1_rss_huge_bytes", cgroup="/vmhost") == 128 * MiB
    assert snap.get("thpwatch_cgroup_v1_total_rss_huge_bytes", cgroup="/vmhost") == 130 * MiB
    assert snap.get("thpwatch_cgroup_v1_rss_huge_bytes", cgroup="/vmhost/small") == 2 * MiB


def test_bounded_walk():
    snap, status = scan(FIXTURES / "stock", max_cgroups=3)  # /, init.scope, system.slice
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v2") == 2
    assert snap.get("thpwatch_cgroup_scan_truncated", hierarchy="v2") == 1
    assert "walk stopped after its bound of 3 cgroup directories" in status.reason
    snap, _ = scan(FIXTURES / "stock")
    assert snap.get("thpwatch_cgroup_scan_truncated", hierarchy="v2") == 0
    snap, _ = scan(FIXTURES / "stock", max_depth=0)
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v2") == 1


def test_malformed_memory_stat_is_named():
    snap, status = scan(FIXTURES / "malformed")
    assert status.state is State.ERROR
    cg = FIXTURES / "malformed/sys/fs/cgroup"
    assert f"{cg}/garbled/memory.stat: line 2: not 'key value': 'file_thp two'" in status.reason
    assert f"{cg}/empty/memory.stat: empty" in status.reason
    assert snap.get("thpwatch_cgroup_thp_fault_alloc_total", cgroup="/good") == 1
    assert snap.get("thpwatch_cgroup_scan_skipped", reason="malformed") == 2


def test_absent_without_memory_controller(tmp_path):
    (tmp_path / "sys/fs/cgroup/unified").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/unified/cgroup.controllers").write_text("hugetlb\n")
    _, status = scan(tmp_path)
    assert status.state is State.ABSENT
    assert "no cgroup memory controller" in status.reason


@pytest.mark.live
def test_live_v1_memory_controller_sees_our_cgroup():
    require(os.geteuid() == 0, "needs root")
    require(Path("/sys/fs/cgroup/memory/memory.stat").exists(), "needs the v1 memory controller")
    snap, status = scan(Path("/"), top=100_000)
    assert status.state is State.OK, status.reason
    mine = next(
        line.split(":", 2)[2]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        if line.split(":")[1] == "memory"
    )
    own = Path("/sys/fs/cgroup/memory" + mine) / "memory.stat"
    expected = int(
        next(x.split()[1] for x in own.read_text().splitlines() if x.startswith("total_rss_huge "))
    )
    got = snap.get("thpwatch_cgroup_v1_total_rss_huge_bytes", cgroup=mine)
    # THP use of our cgroup can change between the two reads only in whole THPs
    assert got is not None and abs(got - expected) % (2 * MiB) == 0
