"""File sources on the fixture trees: exact samples, absent on stock kernels, and the malformed
corpus run as whole Snapshots (the broken source names the file; every other source intact)."""

from __future__ import annotations

import pytest
from fixturetree import FIXTURES, PATCHED, STOCK, collect, deny_reading, tree, values

from thpwatch.assembly import build_sources
from thpwatch.catalog import catalog
from thpwatch.kernel.readings import KernelReadings
from thpwatch.sampler import Sampler
from thpwatch.snapshot import State, labels_of
from thpwatch.sources.cmdline import CmdlineSource
from thpwatch.sources.meminfo import MeminfoSource
from thpwatch.sources.mthp import MthpSource
from thpwatch.sources.pagetypeinfo import PagetypeinfoSource
from thpwatch.sources.reserved_thp import ReservedThpSource
from thpwatch.sources.thp_settings import ThpSettingsSource
from thpwatch.sources.vmstat import VmstatSource

L = labels_of


def snapshot(root):
    return Sampler(build_sources(root, lazy_pte=lambda: True)).snapshot()


def test_reserved_thp_source_patched():
    got, status = collect(ReservedThpSource(KernelReadings(PATCHED)))
    assert status.state is State.OK
    assert got == {
        ("thpwatch_reserved_thp_pool_hpages", ()): 64,
        ("thpwatch_reserved_thp_free_hpages", ()): 24,
        ("thpwatch_reserved_thp_used_hpages", ()): 40,
        ("thpwatch_reserved_thp_pool_bytes", ()): 134217728,
        ("thpwatch_reserved_thp_free_bytes", ()): 50331648,
        ("thpwatch_reserved_thp_used_bytes", ()): 83886080,
    }


def test_reserved_thp_absent_on_stock_not_zero():
    got, status = collect(ReservedThpSource(KernelReadings(STOCK)))
    assert got == {}
    assert status.state is State.ABSENT
    assert status.reason == f"no {STOCK}/sys/kernel/mm/reserved_thp: kernel without Reserved THP"


def test_mthp_source_patched():
    got, status = collect(MthpSource(KernelReadings(PATCHED)))
    assert status.state is State.OK
    assert got[("thpwatch_mthp_anon_fault_alloc_total", L(size="1048576kB"))] == 3
    assert got[("thpwatch_mthp_nr_anon", L(size="1048576kB"))] == 1
    assert got[("thpwatch_mthp_swpin_fallback_total", L(size="2048kB"))] == 6
    assert got[("thpwatch_mthp_enabled", L(size="2048kB", mode="madvise"))] == 1.0
    assert got[("thpwatch_mthp_enabled", L(size="2048kB", mode="inherit"))] == 0.0
    assert got[("thpwatch_mthp_shmem_enabled", L(size="2048kB", mode="inherit"))] == 1.0
    assert ("thpwatch_mthp_shmem_enabled", L(size="1048576kB", mode="inherit")) not in got
    sizes = {dict(labels)["size"] for _, labels in got}
    assert sizes == {f"{kb}kB" for kb in (16, 32, 64, 128, 256, 512, 1024, 2048, 1048576)}


def test_mthp_unknown_stat_appears_without_code_change(tmp_path):
    got, status = collect(MthpSource(KernelReadings(tree(tmp_path, "mthp-unknown-stat"))))
    assert status.state is State.OK
    assert got[("thpwatch_mthp_anon_fault_future_total", L(size="2048kB"))] == 7
    assert got[("thpwatch_mthp_nr_future_gauge", L(size="2048kB"))] == 3
    cat = catalog()
    assert cat.lookup("thpwatch_mthp_anon_fault_future_total").type == "counter"
    assert cat.lookup("thpwatch_mthp_nr_future_gauge").type == "gauge"


def test_thp_settings_source():
    got, status = collect(ThpSettingsSource(STOCK))
    assert status.state is State.OK
    assert got[("thpwatch_thp_enabled", L(mode="madvise"))] == 1.0
    assert got[("thpwatch_thp_enabled", L(mode="always"))] == 0.0
    assert got[("thpwatch_thp_defrag", L(mode="defer+madvise"))] == 0.0
    assert got[("thpwatch_thp_shmem_enabled", L(mode="never"))] == 1.0
    assert got[("thpwatch_thp_use_zero_page", ())] == 1
    assert got[("thpwatch_thp_pmd_size_bytes", ())] == 2097152
    assert ("thpwatch_khugepaged_pages_collapsed_total", ()) in got
    # base units: the sleeps in seconds, PTE limits by kind, no family mixing units
    assert got[("thpwatch_khugepaged_scan_sleep_seconds", ())] == 10.0
    assert got[("thpwatch_khugepaged_alloc_sleep_seconds", ())] == 60.0
    assert got[("thpwatch_khugepaged_pages_to_scan", ())] == 4096
    assert got[("thpwatch_khugepaged_max_ptes", L(kind="none"))] == 511
    assert got[("thpwatch_khugepaged_max_ptes", L(kind="swap"))] == 64
    assert got[("thpwatch_khugepaged_max_ptes", L(kind="shared"))] == 256
    assert got[("thpwatch_khugepaged_defrag", ())] == 1
    assert not [k for k in got if k[0] == "thpwatch_khugepaged_setting"]


def test_vmstat_source_selects_and_types():
    got, status = collect(VmstatSource(KernelReadings(PATCHED)))
    assert status.state is State.OK
    assert got[("thpwatch_vmstat_nr_anon_transparent_hugepages", ())] == 592
    assert got[("thpwatch_vmstat_thp_split_pud_total", ())] == 2
    assert got[("thpwatch_vmstat_pswpin_total", ())] == 32768
    assert got[("thpwatch_vmstat_compact_stall_total", ())] == 17
    assert not any("nr_free_pages" in name for name, _ in got)


def test_meminfo_source():
    got, status = collect(MeminfoSource(PATCHED))
    assert status.state is State.OK
    assert got[("thpwatch_meminfo_anon_huge_pages_bytes", ())] == 1212416 * 1024
    assert got[("thpwatch_meminfo_page_tables_bytes", ())] == 6144 * 1024
    assert got[("thpwatch_meminfo_hugetlb_pages", L(state="total"))] == 0
    assert not any("mem_total" in name for name, _ in got)


def test_pagetypeinfo_source_patched():
    got, status = collect(PagetypeinfoSource(KernelReadings(PATCHED)))
    assert status.state is State.OK
    assert got[("thpwatch_pageblocks", L(node="0", zone="Normal", migratetype="ReserveTHP"))] == 48
    key = L(node="0", zone="Normal", migratetype="ReserveTHP", order="10")
    assert got[("thpwatch_free_chunks", key)] == 10
    assert got[("thpwatch_reserved_thp_pageblocks", ())] == 64
    assert got[("thpwatch_reserved_thp_resident_hpages", ())] == 30
    assert got[("thpwatch_reserved_thp_unallocated_hpages", ())] == 34


def test_pagetypeinfo_source_stock_has_no_reserved_samples():
    got, status = collect(PagetypeinfoSource(KernelReadings(STOCK)))
    assert status.state is State.OK
    assert not any(name.startswith("thpwatch_reserved_thp") for name, _ in got)
    assert got[("thpwatch_pageblocks", L(node="0", zone="DMA", migratetype="Movable"))] == 7


def test_pagetypeinfo_not_readable_is_blocked(tmp_path, monkeypatch):
    root = tree(tmp_path)
    path = root / "proc/pagetypeinfo"
    deny_reading(monkeypatch, path)
    got, status = collect(PagetypeinfoSource(KernelReadings(root)))
    assert got == {}
    assert status.state is State.BLOCKED
    assert status.reason == f"{path}: permission denied (root can read it)"


def test_cmdline_source_patched_and_stock():
    got, status = collect(CmdlineSource(KernelReadings(PATCHED)))
    assert status.state is State.OK
    assert got == {
        ("thpwatch_reserved_thp_boot_param_valid", L(param="thp_reserved_size")): 1.0,
        ("thpwatch_reserved_thp_boot_param_valid", L(param="thp_reserved_nr")): 1.0,
        ("thpwatch_reserved_thp_requested_hpages", ()): 64,
        ("thpwatch_reserved_thp_boot_shortfall_hpages", ()): 0,
    }
    got, status = collect(CmdlineSource(KernelReadings(STOCK)))
    assert got == {} and status.state is State.ABSENT


def test_cmdline_rejected_params(tmp_path):
    got, status = collect(CmdlineSource(KernelReadings(tree(tmp_path, "cmdline-invalid"))))
    assert status.state is State.OK
    assert got == {
        ("thpwatch_reserved_thp_boot_param_valid", L(param="thp_reserved_size")): 0.0,
        ("thpwatch_reserved_thp_boot_param_valid", L(param="thp_reserved_nr")): 0.0,
        ("thpwatch_reserved_thp_requested_hpages", ()): 0,
        ("thpwatch_reserved_thp_boot_shortfall_hpages", ()): 0,
    }


def test_boot_shortfall(tmp_path):
    root = tree(tmp_path)
    (root / "proc/cmdline").write_text("ro thp_reserved_nr=80\n")
    got, _ = collect(CmdlineSource(KernelReadings(root)))
    assert got[("thpwatch_reserved_thp_boot_shortfall_hpages", ())] == 80 - 64


@pytest.mark.parametrize("base", ["stock", "patched", "patched-unfixed", "patched-overquota"])
def test_every_sample_is_in_the_catalog(base):
    snap = snapshot(FIXTURES / base)
    assert {st.name: st.state for st in snap.statuses if st.state is not State.OK} == (
        {"reserved_thp": State.ABSENT, "cmdline": State.ABSENT} if base == "stock" else {}
    )
    assert [s.name for s in snap.samples if s.name not in catalog()] == []
    assert len(snap.samples) > 400


# (case, broken source, words its reason must contain, other sources that read the same file)
POOL_READERS = {"cmdline", "checks"}
CORPUS = [
    ("reserved-garbage", "reserved_thp", "reserved_thp/total_hpages: line 1: expected a decimal",
     POOL_READERS),
    ("reserved-truncated", "reserved_thp", "reserved_thp/used_hpages: truncated", POOL_READERS),
    ("reserved-empty", "reserved_thp", "reserved_thp/free_hpages: line 1: expected a decimal",
     POOL_READERS),
    ("mthp-garbage-stat", "mthp", "hugepages-2048kB/stats/anon_fault_alloc: line 1", {"checks"}),
    ("settings-garbage", "thp_settings", "transparent_hugepage/enabled: line 1", set()),
    ("vmstat-garbage", "vmstat", "proc/vmstat: line 3: cannot parse 'this line is garbage'",
     {"checks"}),
    ("vmstat-empty", "vmstat", "proc/vmstat: empty file", {"checks"}),
    ("meminfo-garbage", "meminfo", "proc/meminfo: line 3: cannot parse 'PageTables: lots kB'",
     set()),
    ("pagetypeinfo-unknown-column", "pagetypeinfo", "proc/pagetypeinfo: line 14: expected 11",
     {"checks"}),
    ("pagetypeinfo-truncated", "pagetypeinfo", "no 'Number of blocks type' table", {"checks"}),
    ("pagetypeinfo-garbage-header", "pagetypeinfo", "line 1: expected a decimal number, got 'nine'",
     {"checks"}),
    ("pagetypeinfo-empty", "pagetypeinfo", "proc/pagetypeinfo: empty file", {"checks"}),
]  # fmt: skip


@pytest.mark.parametrize("case, broken, reason, readers", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_corpus_in_a_whole_snapshot(tmp_path, case, broken, reason, readers, caplog):
    root = tree(tmp_path, case)
    st = snapshot(root).status(broken)
    assert st.state is State.ERROR
    assert reason in st.reason and str(root) in st.reason
    assert "internal error" not in st.reason
    assert not caplog.records  # nothing logged as an unexpected exception
    # Every source that does not read the broken file gives exactly what the intact tree gives.
    intact = {s.name: s for s in build_sources(PATCHED, lazy_pte=lambda: True)}
    for source in build_sources(root, lazy_pte=lambda: True):
        if source.name != broken and source.name not in readers:
            (got, status), (want, _) = collect(source), collect(intact[source.name])
            assert (got, status.state) == (want, State.OK), source.name


def test_partial_failure_keeps_other_samples(tmp_path):
    snap = snapshot(tree(tmp_path, "vmstat-garbage"))
    assert snap.get("thpwatch_vmstat_thp_fault_alloc_total") == 5031
    assert snap.get("thpwatch_vmstat_thp_future_counter_total") == 17
    assert snap.get("thpwatch_vmstat_thp_split_pmd_total") is None
    snap = snapshot(tree(tmp_path, "mthp-garbage-stat"))
    assert snap.get("thpwatch_mthp_split_total", size="2048kB") == 310
    assert snap.get("thpwatch_mthp_anon_fault_alloc_total", size="2048kB") is None


@pytest.mark.parametrize(
    "remove, source, state",
    [
        ("proc/vmstat", "vmstat", State.ABSENT),
        ("proc/meminfo", "meminfo", State.ABSENT),
        ("proc/pagetypeinfo", "pagetypeinfo", State.ABSENT),
        ("sys/kernel/mm/reserved_thp/used_hpages", "reserved_thp", State.ERROR),
    ],
)
def test_missing_files(tmp_path, remove, source, state):
    root = tree(tmp_path)
    (root / remove).unlink()
    snap = snapshot(root)
    st = snap.status(source)
    assert st.state is state
    assert str(root / remove) in st.reason
    assert snap.status("thp_settings").state is State.OK


def test_values_helper_sees_labels():
    snap = snapshot(PATCHED)
    blocks = values(snap.samples, "thpwatch_pageblocks")
    assert blocks[L(node="0", zone="DMA32", migratetype="ReserveTHP")] == 16


def test_cmdline_still_reports_request_when_pool_files_are_broken(tmp_path):
    got, status = collect(CmdlineSource(KernelReadings(tree(tmp_path, "reserved-garbage"))))
    assert status.state is State.ERROR
    assert "total_hpages: line 1" in status.reason and "shortfall not computed" in status.reason
    assert got[("thpwatch_reserved_thp_requested_hpages", ())] == 64
    assert ("thpwatch_reserved_thp_boot_shortfall_hpages", ()) not in got


@pytest.mark.parametrize("case", ["pagetypeinfo-truncated", "pagetypeinfo-unknown-column"])
def test_no_reserved_sums_from_an_incomplete_table(tmp_path, case):
    got, status = collect(PagetypeinfoSource(KernelReadings(tree(tmp_path, case))))
    assert status.state is State.ERROR
    assert not any(name.startswith("thpwatch_reserved_thp") for name, _ in got)
    key = L(node="0", zone="DMA32", migratetype="ReserveTHP", order="9")
    assert got[("thpwatch_free_chunks", key)] == 2  # the rows that were read are still there
