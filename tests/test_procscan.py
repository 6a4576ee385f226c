"""Per-process scan: fixtures (stock, patched, malformed, vanished), bounds, and a live process."""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import pytest
from conftest import FIXTURES, require
from unit.fixturetree import tree

from thpwatch.catalog import catalog
from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.smaps import summarize_smaps
from thpwatch.sampler import run_source
from thpwatch.snapshot import Snapshot, State
from thpwatch.sources.procscan import BOUND_STATUS, SMAPS_STATUS, Budget, ProcScan

MiB = 1 << 20


def scan(root: Path, **kw) -> tuple[Snapshot, dict]:
    samples, statuses = run_source(ProcScan(root, **kw))
    assert all(s.name in catalog() for s in samples)
    return Snapshot(0, 0, tuple(samples), tuple(statuses)), {s.name: s for s in statuses}


def test_stock_tree_walks_smaps():
    snap, st = scan(FIXTURES / "stock")
    assert st["procscan"].state is State.OK, st["procscan"].reason
    assert st[SMAPS_STATUS].state is State.OK
    assert snap.get("thpwatch_process_scan_processes") == 2  # kthreadd has no mm
    assert snap.get("thpwatch_process_anon_huge_bytes", comm="java") == 500 * MiB
    assert snap.get("thpwatch_process_hugepage_vma_bytes", comm="java") == 1024 * MiB
    assert snap.get("thpwatch_process_pagetable_bytes", comm="sshd") == 64 * 1024
    assert snap.get("thpwatch_process_scan_reserved_thp_processes") == 0
    assert snap.get("thpwatch_process_scan_skipped", reason="vanished") == 0


def test_patched_tree_keeps_smaps_off_because_of_pud_thp():
    snap, st = scan(FIXTURES / "patched")
    smaps = st[SMAPS_STATUS]
    assert smaps.state is State.ABSENT
    assert "PUD THP" in smaps.reason and "--process-smaps=on" in smaps.reason
    assert st["procscan"].state is State.OK
    # status-only data is still there; nothing read from smaps is reported (not even 0)
    assert snap.get("thpwatch_process_pagetable_bytes", comm="vmhost") == (160 + 24) * 1024
    assert snap.get("thpwatch_process_scan_anon_rss_bytes") == (135168 + 2048 + 1048576) * 1024
    assert not list(snap.series("thpwatch_process_reserved_thp_bytes"))
    assert snap.get("thpwatch_process_scan_anon_huge_bytes") is None


def test_patched_tree_forced_shows_reserved_vmas_grouped_by_comm():
    snap, st = scan(FIXTURES / "patched", smaps="on")
    assert st[SMAPS_STATUS].state is State.OK
    assert "forced on although" in st[SMAPS_STATUS].reason
    assert snap.get("thpwatch_process_reserved_thp_bytes", comm="vmhost") == 130 * MiB
    assert snap.get("thpwatch_process_reserved_thp_resident_bytes", comm="vmhost") == 18 * MiB
    assert snap.get("thpwatch_process_scan_reserved_thp_processes") == 2
    assert snap.get("thpwatch_process_scan_anon_huge_bytes") == (18 + 4 + 1024) * MiB
    # 1400 exited between listing /proc and reading it: skipped silently, counted
    assert snap.get("thpwatch_process_scan_skipped", reason="vanished") == 1
    assert st["procscan"].reason == ""


def test_pid_labels_only_when_asked():
    snap, _ = scan(FIXTURES / "patched", smaps="on", pid_labels=True)
    assert snap.get("thpwatch_process_reserved_thp_bytes", comm="vmhost", pid="1200") == 128 * MiB
    assert snap.get("thpwatch_process_reserved_thp_bytes", comm="vmhost", pid="1201") == 2 * MiB
    default, _ = scan(FIXTURES / "patched", smaps="on")
    assert all(s.label("pid") == "" for s in default.samples)


def test_top_n_ranks_reserved_holders_first():
    snap, _ = scan(FIXTURES / "patched", smaps="on", top=1)
    comms = {s.label("comm") for s in snap.series("thpwatch_process_pagetable_bytes")}
    assert comms == {"vmhost"}


def test_smaps_off_by_choice():
    snap, st = scan(FIXTURES / "stock", smaps="off")
    assert st[SMAPS_STATUS].state is State.ABSENT and st[SMAPS_STATUS].reason == "turned off"
    assert snap.get("thpwatch_process_anon_huge_bytes", comm="java") is None


def test_malformed_processes_are_named_and_the_rest_kept(tmp_path):
    tree_root = tree(tmp_path, "processes-garbled")
    snap, st = scan(tree_root, smaps="on")
    reason = st["procscan"].reason
    assert st["procscan"].state is State.ERROR
    root = tree_root / "proc"
    assert f"{root}/500/smaps: line 26: not a smaps line: 'this is not smaps'" in reason
    assert f"{root}/501/smaps: line 16: AnonHugePages is 'lots kB', not kB" in reason
    assert f"{root}/502/status: no Name: line" in reason
    assert f"{root}/503/status: VmPTE is 'ten kB', not a size in kB" in reason
    assert f"{root}/504/status: no Name: line" in reason
    assert f"{root}/506/smaps: line 1: Size before the first VMA header" in reason
    assert snap.get("thpwatch_process_scan_skipped", reason="malformed") == 6
    assert snap.get("thpwatch_process_anon_huge_bytes", comm="fine") == 2 * MiB
    assert snap.get("thpwatch_process_reserved_thp_bytes", comm="vmhost") == 130 * MiB


def test_budget_bounds_the_scan():
    snap, st = scan(FIXTURES / "stock", budget=lambda: Budget(max_processes=1))
    assert snap.get("thpwatch_process_scan_skipped", reason="budget") == 2
    assert st["procscan"].state is State.OK  # a bound reached is not a failure
    assert st[BOUND_STATUS].reason == "stopped at its bound of 1 processes: 2 processes not read"
    snap, st = scan(FIXTURES / "stock", budget=lambda: Budget(max_bytes=100))
    assert snap.get("thpwatch_process_scan_skipped", reason="budget") == 2
    assert "bound of 100 bytes of smaps" in st[BOUND_STATUS].reason
    snap, st = scan(FIXTURES / "stock", budget=lambda: Budget(max_seconds=0))
    assert snap.get("thpwatch_process_scan_processes") == 0
    assert "bound of 0 s" in st[BOUND_STATUS].reason
    _, st = scan(FIXTURES / "stock")
    assert BOUND_STATUS not in st


def test_no_proc_is_absent(tmp_path):
    _, st = scan(tmp_path)
    assert st["procscan"].state is State.ABSENT


def test_smaps_without_vmflags_still_counts_vmas():
    text = "7f0000000000-7f0000200000 rw-p 00000000 00:00 0\nAnonHugePages:  2048 kB\n"
    s = summarize_smaps(text.splitlines(), "x")
    assert s.vmas == 1 and s.anon_huge_bytes == 2 * MiB and s.hugepage_vmas == 0
    with pytest.raises(KernelFileError, match="x: line 2"):
        summarize_smaps(["7f0000000000-7f0000200000 rw-p 0 0 0", "garbage"], "x")


def _madvise(buf: mmap.mmap, advice: int) -> None:
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    if libc.madvise(addr, len(buf), advice) != 0:
        raise OSError(ctypes.get_errno(), "madvise")


@pytest.mark.live
def test_live_madv_hugepage_region_is_seen():
    require(os.geteuid() == 0, "needs root")
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    require("[never]" not in thp, "needs THP enabled (madvise or always)")
    size = 16 * MiB
    buf = mmap.mmap(-1, size + 2 * MiB, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        _madvise(buf, facts.MADV_HUGEPAGE)
        for off in range(0, len(buf), 4096):
            buf[off] = 1
        snap, st = scan(Path("/"), pid_labels=True, top=100_000)
        assert st[SMAPS_STATUS].state is State.OK
        me = {"comm": Path("/proc/self/comm").read_text().strip(), "pid": str(os.getpid())}
        assert snap.get("thpwatch_process_hugepage_vma_bytes", **me) >= size + 2 * MiB
        # at least one aligned 2 MiB THP fits in any 18 MiB range; the kernel usually gives 8
        assert snap.get("thpwatch_process_anon_huge_bytes", **me) >= 2 * MiB
        assert snap.get("thpwatch_process_pagetable_bytes", **me) > 0
    finally:
        buf.close()


@pytest.mark.parametrize(
    ("file", "line", "bad"),
    [
        ("status", "VmPTE:\t     160 kB", "VmPTE:\t" + "9" * 401 + " kB"),
        ("smaps", "AnonHugePages:     16384 kB", "AnonHugePages: " + "9" * 401 + " kB"),
        ("status", "Name:\tvmhost", "Name:\tvm\udcffhost"),  # not UTF-8: escaped, kept
    ],
)
def test_one_odd_process_never_loses_the_scan(tmp_path, file, line, bad):
    """#17: a 401-digit value (or a non-UTF-8 name) in one process lost the whole scan."""
    root = tree(tmp_path)
    path = root / "proc/1200" / file
    text = path.read_text()
    assert line in text
    path.unlink()  # the tree may share inodes with the fixtures
    path.write_bytes(text.replace(line, bad).encode("utf-8", "surrogateescape"))
    snap, st = scan(root, smaps="on", pid_labels=True)
    assert snap.get("thpwatch_process_scan_processes") >= 2
    assert snap.get("thpwatch_process_pagetable_bytes", comm="redis-server", pid="1300") > 0
    assert snap.get("thpwatch_process_pagetable_bytes", comm="vmhost", pid="1201") > 0
    if "Name" in line:
        assert st["procscan"].state is State.OK
        assert snap.get("thpwatch_process_pagetable_bytes", comm="vm\\xffhost", pid="1200") > 0
    else:
        assert st["procscan"].state is State.ERROR
        assert f"proc/1200/{file}" in st["procscan"].reason
        assert len(st["procscan"].reason) < 400  # the 401 digits are not repeated
        assert snap.get("thpwatch_process_scan_skipped", reason="malformed") == 1
