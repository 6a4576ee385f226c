"""Per-cgroup THP memory: v2 (stock fixture), v1 hybrid (patched fixture), malformed, live."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, require
from unit.fixturetree import tree

from thpwatch.catalog import catalog
from thpwatch.sampler import run_source
from thpwatch.snapshot import Snapshot, State
from thpwatch.sources import cgroups
from thpwatch.sources.cgroups import CgroupScan

MiB = 1 << 20


def scan(root: Path, with_subs: bool = False, **kw):
    samples, (status, *subs) = run_source(CgroupScan(root, **kw))
    assert all(s.name in catalog() for s in samples)
    snap = Snapshot(0, 0, tuple(samples), ())
    return (snap, status, subs) if with_subs else (snap, status)


def test_each_memory_stat_key_names_its_metric():
    """V2_METRICS/V1_METRICS pair facts' keys with metrics by position: a key and the metric
    beside it must be the same stat."""
    for key, metric in (*cgroups.V2_METRICS.items(), *cgroups.V1_METRICS.items()):
        assert f"_{key}_" in metric.name, (key, metric.name)


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
    snap, status, subs = scan(
        FIXTURES / "stock", max_cgroups=3, with_subs=True
    )  # /, init.scope, system.slice
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v2") == 2
    assert snap.get("thpwatch_cgroup_scan_truncated", hierarchy="v2") == 1
    assert status.state is State.OK  # a bound reached is not a failure
    (bound,) = subs
    assert bound.name == "cgroups.bound.v2"
    assert bound.reason.endswith("walk stopped at its bound of 3 cgroup directories")
    snap, _ = scan(FIXTURES / "stock")
    assert snap.get("thpwatch_cgroup_scan_truncated", hierarchy="v2") == 0
    snap, _ = scan(FIXTURES / "stock", max_depth=0)
    assert snap.get("thpwatch_cgroup_scan_cgroups", hierarchy="v2") == 1


def test_malformed_memory_stat_is_named(tmp_path):
    root = tree(tmp_path, "cgroups-garbled", base="stock")
    snap, status = scan(root)
    assert status.state is State.ERROR
    cg = root / "sys/fs/cgroup"
    assert f"{cg}/garbled/memory.stat: line 2: cannot parse 'file_thp two'" in status.reason
    assert f"{cg}/empty/memory.stat: empty" in status.reason
    assert snap.get("thpwatch_cgroup_thp_fault_alloc_total", cgroup="/good") == 1
    assert snap.get("thpwatch_cgroup_scan_skipped", reason="malformed") == 2
    pg = "/system.slice/postgresql.service"
    assert snap.get("thpwatch_cgroup_anon_thp_bytes", cgroup=pg) == 1024 * MiB


def test_absent_without_memory_controller(tmp_path):
    (tmp_path / "sys/fs/cgroup/unified").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/unified/cgroup.controllers").write_text("hugetlb\n")
    _, status = scan(tmp_path)
    assert status.state is State.ABSENT
    assert "no cgroup memory controller" in status.reason


# A child that joins the cgroup named on its command line, faults 16 MiB of MADV_HUGEPAGE
# memory, prints its AnonHugePages (bytes) and waits for a line on stdin.
_THP_CHILD = """
import ctypes, mmap, os, sys
open(sys.argv[1] + "/cgroup.procs", "w").write(str(os.getpid()))
buf = mmap.mmap(-1, 18 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
libc = ctypes.CDLL(None, use_errno=True)
libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
assert libc.madvise(addr, len(buf), 14) == 0, ctypes.get_errno()
for off in range(0, len(buf), 4096):
    buf[off] = 1
huge = sum(int(l.split()[1]) for l in open("/proc/self/smaps") if l.startswith("AnonHugePages:"))
print(huge * 1024, flush=True)
sys.stdin.readline()
"""


@pytest.mark.live
def test_live_v1_cgroup_with_a_thp_workload(tmp_path):
    require(os.geteuid() == 0, "needs root")
    v1 = Path("/sys/fs/cgroup/memory")
    require((v1 / "memory.stat").exists(), "needs the v1 memory controller")
    cgroup = v1 / f"thpwatch-test-{os.getpid()}"
    cgroup.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", _THP_CHILD, str(cgroup)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        faulted = int(child.stdout.readline())
        require(faulted > 0, "the kernel gave the workload no THP (fragmented memory?)")
        snap, status = scan(Path("/"), top=100_000)
        assert status.state is State.OK, status.reason
        name = f"/{cgroup.name}"
        assert snap.get("thpwatch_cgroup_v1_rss_huge_bytes", cgroup=name) == faulted
        assert snap.get("thpwatch_cgroup_v1_total_rss_huge_bytes", cgroup=name) == faulted
    finally:
        child.communicate("done\n", timeout=30)
        cgroup.rmdir()


def test_a_401_digit_value_and_a_non_utf8_name_keep_the_other_cgroups(tmp_path):
    """#17: one memory.stat with a 401-digit value, one cgroup named with non-UTF-8 bytes."""
    root = tree(tmp_path)
    v1 = root / "sys/fs/cgroup/memory"
    stat = v1 / "vmhost/memory.stat"
    text = stat.read_text()
    stat.unlink()  # the tree may share inodes with the fixtures
    stat.write_text(text.replace("\nrss_huge ", "\nrss_huge 9" + "9" * 400 + "\nx ", 1))
    odd = Path(os.fsdecode(bytes(v1) + b"/odd-\xff"))
    odd.mkdir()
    (odd / "memory.stat").write_text((v1 / "idle/memory.stat").read_text())
    snap, status = scan(root)
    assert status.state is State.ERROR
    assert "vmhost/memory.stat: line" in status.reason and "beyond 64 bits" in status.reason
    assert len(status.reason) < 400
    names = {s.label("cgroup") for s in snap.series("thpwatch_cgroup_v1_total_rss_huge_bytes")}
    assert {"/", "/idle", "/odd-\\xff", "/vmhost/small"} <= names
    assert "/vmhost" not in names
