"""Feature detection on fixture trees (stock, patched, partial) and on this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from btfbuild import BtfBuilder, kernel_btf
from conftest import FIXTURES, require
from unit.fixturetree import tree

from thpwatch.catalog import catalog
from thpwatch.features import (
    Evidence,
    Presence,
    conclude,
    detect,
    lazy_pte_evidence,
    vmpte_evidence,
)
from thpwatch.sampler import run_source
from thpwatch.snapshot import State
from thpwatch.sources.features import FeaturesSource
from thpwatch.vmpte_selftest import VmpteGrowth

SERIES = ("reserved_thp", "pud_thp", "lazy_pte", "pmd_swap")


def present(report):
    return {f.key: f.present for f in report.series}


def test_patched_tree_has_all_four_series():
    report = detect(FIXTURES / "patched")
    assert present(report) == dict.fromkeys(SERIES, Presence.YES)
    assert report.release == "6.12.117-thp-series"
    for key in ("reserved_thp", "pud_thp"):  # sysfs dir, kallsyms and BTF all agree
        assert {e.says for e in report.feature(key).evidence} == {Presence.YES}
    lazy = report.feature("lazy_pte")
    assert "pgtable_t pgtable" in lazy.evidence[0].found


def test_stock_tree_has_none():
    report = detect(FIXTURES / "stock")
    assert present(report) == dict.fromkeys(SERIES, Presence.NO)


def test_pmd_swap_evidence_has_the_same_shape_on_both_kernels():
    """kallsyms, BTF and the vmstat counter the series adds: yes on the patched tree, no on
    stock, one look each in the same order."""
    patched = detect(FIXTURES / "patched").feature("pmd_swap").evidence
    stock = detect(FIXTURES / "stock").feature("pmd_swap").evidence
    assert [e.check.split()[0] for e in patched] == ["symbol", "BTF", "counter"]
    assert [e.check.split(" in ")[0] for e in patched] == [e.check.split(" in ")[0] for e in stock]
    assert [e.says for e in patched] == [Presence.YES] * 3
    assert [e.says for e in stock] == [Presence.NO] * 3
    assert patched[2].check.startswith("counter thp_swpout_pmd in ")
    assert (patched[2].found, stock[2].found) == ("listed", "not listed")


def test_pmd_swap_vmstat_unreadable_is_unknown_not_no(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/vmstat").mkdir()  # a directory where the file should be
    counter = detect(_tree(tmp_path)).feature("pmd_swap").evidence[2]
    assert counter.says is Presence.UNKNOWN and counter.found.startswith("not readable: ")


def test_patched_tree_without_smaps_pud_walker_keeps_page_walks_off():
    report = detect(FIXTURES / "patched")
    assert report.smaps_pud_safe.present is Presence.NO
    assert "split every 1 GiB THP" in report.page_walks_split_pud_thps()
    assert detect(FIXTURES / "stock").page_walks_split_pud_thps() == ""


def _tree(tmp_path: Path, kallsyms: str | None = None, btf: bytes | None = None) -> Path:
    (tmp_path / "sys/kernel/mm/transparent_hugepage").mkdir(parents=True, exist_ok=True)
    if kallsyms is not None:
        (tmp_path / "proc").mkdir()
        (tmp_path / "proc/kallsyms").write_text(kallsyms)
    if btf is not None:
        (tmp_path / "sys/kernel/btf").mkdir(parents=True)
        (tmp_path / "sys/kernel/btf/vmlinux").write_bytes(btf)
    return tmp_path


def test_clone_in_kallsyms_counts(tmp_path):
    report = detect(_tree(tmp_path, "0 t do_huge_pmd_swap_page.isra.0\n0 T x\n"))
    pmd_swap = report.feature("pmd_swap")
    assert pmd_swap.present is Presence.YES
    assert pmd_swap.evidence[0].found == "listed as do_huge_pmd_swap_page.isra.0"


def test_smaps_pud_walker_makes_page_walks_safe(tmp_path):
    (tmp_path / "sys/kernel/mm/transparent_hugepage/hugepages-1048576kB").mkdir(parents=True)
    report = detect(_tree(tmp_path, "0 t smaps_pud_range\n"))
    assert report.feature("pud_thp").present is Presence.YES
    assert report.smaps_pud_safe.present is Presence.YES
    assert report.page_walks_split_pud_thps() == ""


def test_sysfs_dirs_alone_are_enough(tmp_path):
    (tmp_path / "sys/kernel/mm/reserved_thp").mkdir(parents=True)
    report = detect(_tree(tmp_path))
    reserved = report.feature("reserved_thp")
    assert reserved.present is Presence.YES
    kallsyms = reserved.evidence[1]
    assert kallsyms.says is Presence.UNKNOWN and "not readable" in kallsyms.found
    # nothing that can show a prototype: lazy PTE cannot be told
    assert report.feature("lazy_pte").present is Presence.UNKNOWN


def _split_btf(params: list[str], types: dict[str, str] | None = None) -> bytes:
    b = BtfBuilder()
    ulong = b.int("long unsigned int", 8)
    pgtable_t = b.typedef("pgtable_t", b.ptr(b.struct("page")))
    ptr = b.ptr(b.struct("vm_area_struct"))
    ids = {"vma": ptr, "address": ulong, "pmd": ptr, "freeze": ulong, "folio": ptr}
    typed = {"pgtable_t": pgtable_t, "ulong": ulong}
    chosen = [(n, typed[types[n]] if types and n in types else ids.get(n, ulong)) for n in params]
    b.func("split_huge_pmd_locked", 0, chosen)
    return b.blob()


@pytest.mark.parametrize(
    "params,types,expected",
    [
        (["vma", "address", "pmd", "freeze"], None, Presence.NO),  # 6.18 unpatched: 4
        (["vma", "address", "pmd", "freeze", "folio"], None, Presence.NO),  # 6.12 unpatched: 5
        (["vma", "address", "pmd", "freeze", "folio", "x"], None, Presence.NO),  # 6, no pgtable
        (["vma", "address", "pmd", "freeze", "pgtable"], {"pgtable": "pgtable_t"}, Presence.YES),
        (["vma", "address", "pmd", "freeze", "folio", "pt"], {"pt": "pgtable_t"}, Presence.YES),
    ],
)
def test_lazy_pte_by_parameter_not_by_count(tmp_path, params, types, expected):
    report = detect(_tree(tmp_path, btf=_split_btf(params, types)))
    assert report.feature("lazy_pte").present is expected


def test_garbage_btf_is_evidence_not_a_crash(tmp_path):
    report = detect(_tree(tmp_path, "", b"\x00" * 40))
    lazy = report.feature("lazy_pte")
    assert lazy.present is Presence.UNKNOWN
    assert "bad magic" in lazy.evidence[0].found


def test_features_source_emits_catalog_metrics():
    samples, (status, *_) = run_source(FeaturesSource(FIXTURES / "patched"))
    assert status.state is State.OK, status.reason
    info = {s.name: dict(s.labels) for s in samples}
    assert info["thpwatch_kernel_info"] == {
        "release": "6.12.117-thp-series",
        **dict.fromkeys(SERIES, "yes"),
    }
    assert info["thpwatch_build_info"]["version"]
    assert all(s.name in catalog() for s in samples)


def test_features_source_with_unknowns_says_which(tmp_path):
    samples, (status, *subs) = run_source(FeaturesSource(_tree(tmp_path)))
    assert status.state is State.OK  # a host without BTF is a limit, not a failure
    lazy = {s.name: s for s in subs}["features.lazy_pte"]
    assert lazy.state is State.ABSENT
    assert lazy.reason.startswith("cannot tell whether the kernel has PTE table allocated lazily")
    assert samples[0].label("lazy_pte") == "unknown"


def test_stock_btf_fixture_copied_into_a_tree_detects_the_same(tmp_path):
    shutil.copytree(FIXTURES / "stock", tmp_path / "t")
    assert (tmp_path / "t/sys/kernel/btf/vmlinux").read_bytes() == kernel_btf(False)
    assert present(detect(tmp_path / "t")) == dict.fromkeys(SERIES, Presence.NO)


@pytest.mark.live
def test_this_machine_has_none_of_the_series():
    require(os.geteuid() == 0, "needs root (kallsyms, BTF)")
    require(Path("/sys/kernel/btf/vmlinux").exists(), "needs BTF")
    report = detect()
    assert report.release == os.uname().release
    assert present(report) == dict.fromkeys(SERIES, Presence.NO)
    for f in report.series:
        assert all(e.says is Presence.NO for e in f.evidence), f


def test_truncated_btf_in_a_whole_tree(tmp_path):
    report = detect(tree(tmp_path, "btf-truncated"))
    lazy = report.feature("lazy_pte")
    assert lazy.present is Presence.UNKNOWN
    assert "sections end at byte" in lazy.evidence[0].found
    # the other series are still told by sysfs and kallsyms
    assert report.feature("reserved_thp").present is Presence.YES


def test_truncated_kallsyms_in_a_whole_tree(tmp_path):
    report = detect(tree(tmp_path, "kallsyms-truncated"))
    kallsyms = report.feature("pmd_swap").evidence[0]
    assert kallsyms.says is Presence.YES  # lines before the garbage still count
    # the cut-off last line names no symbol; BTF still finds the function
    reserved = report.feature("reserved_thp").evidence
    assert reserved[1].says is Presence.NO and reserved[2].says is Presence.YES


@pytest.mark.parametrize(
    "thps,vmpte_kib,says,text",
    [
        (33, 132, Presence.NO, "a PTE table deposited per THP"),  # measured on this machine
        (64, 0, Presence.YES, "no table deposited"),  # lazy-PTE kernel (shared/kernel/README)
        (64, 4, Presence.YES, "no table deposited"),  # one new upper-level table
        (3, 12, Presence.UNKNOWN, "too few THPs"),
        (32, 40, Presence.UNKNOWN, "neither pattern"),
    ],
)
def test_vmpte_selftest_verdicts(thps, vmpte_kib, says, text):
    evidence = vmpte_evidence(lambda: VmpteGrowth(thps, vmpte_kib * 1024))
    assert evidence.says is says and text in evidence.found
    assert f"{thps} THPs, VmPTE +{vmpte_kib} KiB" in evidence.found


def test_vmpte_selftest_failure_is_unknown():
    def fail():
        raise OSError(12, "Cannot allocate memory")

    assert vmpte_evidence(fail).says is Presence.UNKNOWN


def test_selftest_only_runs_on_the_running_kernel():
    report = detect(FIXTURES / "patched", selftest=True)
    assert len(report.feature("lazy_pte").evidence) == 2  # BTF only: no fault in a fixture


def test_selftest_decides_lazy_pte_when_btf_cannot_tell():
    """6.1: split_huge_pmd_locked is not in BTF (both looks unknown); the self-test's deposit
    pattern (4 KiB of VmPTE per THP, plus the region's two edge tables) decides "no"."""
    unknown = [Evidence("BTF prototype", "function not in BTF", Presence.UNKNOWN)] * 2
    deposit = lazy_pte_evidence(
        unknown, live=True, asked=False, measure=lambda: VmpteGrowth(32, (32 + 2) * 4096)
    )
    assert [e.says for e in deposit] == [Presence.UNKNOWN] * 2 + [Presence.NO]
    assert conclude(deposit) is Presence.NO


def test_selftest_not_run_unasked_when_btf_tells():
    def never():
        raise AssertionError("self-test ran although BTF could tell")

    btf_no = [Evidence("BTF prototype", "not a parameter", Presence.NO)]
    assert lazy_pte_evidence(btf_no, live=True, asked=False, measure=never) == btf_no
    unknown = [Evidence("BTF prototype", "BTF not readable", Presence.UNKNOWN)]
    assert lazy_pte_evidence(unknown, live=False, asked=True, measure=never) == unknown


@pytest.mark.live
def test_live_selftest_agrees_with_btf_here():
    require(os.geteuid() == 0, "needs root")
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    require("[never]" not in thp, "needs THP enabled (madvise or always)")
    lazy = detect(selftest=True).feature("lazy_pte")
    assert lazy.present is Presence.NO
    selftest = lazy.evidence[-1]
    assert selftest.says is Presence.NO, selftest  # 6.18 deposits a table per PMD THP
