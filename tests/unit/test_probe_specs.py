"""Probe specs, tracefs format parsing, header discovery and cross-check arithmetic."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from thpwatch.kernel import facts
from thpwatch.probes.attach import ProbeState, mark_absent, resolve_targets
from thpwatch.probes.crosscheck import (
    ACTIVITY,
    AT_MOST,
    CHECKS,
    EXACT,
    Check,
    CrossCheck,
    disagreement,
)
from thpwatch.probes.groups.alloc import AllocKey, allocs_of_order
from thpwatch.probes.groups.faults import FAULT, FaultKey
from thpwatch.probes.groups.splits import SPLIT_COUNTS, SplitKey
from thpwatch.probes.headers import HeadersMissing, find_headers, merge_trees
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.probes.maps import RawMaps
from thpwatch.probes.program import BPF_DIR, program_text
from thpwatch.probes.specs import (
    FUNCTION_PROBES,
    GROUP_FILES,
    GROUPS,
    PROBES,
    check_groups,
    probes_of,
)
from thpwatch.probes.tracefs import symbolic_names

COLLAPSE_FORMAT = """name: mm_collapse_huge_page
format:
\tfield:int status;\toffset:20;\tsize:4;\tsigned:1;

print fmt: "mm=%p, isolated=%d, status=%s", REC->mm, REC->isolated, __print_symbolic(REC->status, \
{0, "failed"}, {1, "succeeded"}, {2, "pmd_null"}, {30, "page_filled"})
"""


def test_every_group_has_its_bpf_file_and_every_probe_a_group() -> None:
    for p in PROBES:
        assert p.group in GROUPS
        assert (BPF_DIR / GROUP_FILES[p.group]).is_file(), p.group
    assert set(GROUPS) == {p.group for p in PROBES}


def test_each_group_alone_selects_only_its_probes_and_file() -> None:
    for group in GROUPS:
        probes = probes_of((group,))
        assert probes and {p.group for p in probes} == {group}
        text = program_text(probes)
        assert text.count("/* ") >= 1 and text.startswith(f"/* {GROUP_FILES[group]} */")


def _kernel(**present: tuple[str, ...]) -> dict[str, KernelFunction]:
    """Every probed function, with the kallsyms names given (absent when not given)."""
    names = {fn for p in FUNCTION_PROBES for fn in p.functions}
    return {n: KernelFunction(n, n in present, present.get(n, ()), 2, "int") for n in names}


def test_folio_split_probe_takes_the_name_this_kernel_has() -> None:
    (spec,) = [p for p in FUNCTION_PROBES if p.name == facts.FN_SPLIT_HUGE_PAGE]
    new, old = facts.FN_SPLIT_HUGE_PAGE, facts.FN_SPLIT_HUGE_PAGE_OLD
    # 6.12: split_huge_page_to_list_to_order
    assert resolve_targets(spec, _kernel(**{new: (new,)})) == (new,)
    # 6.1: split_huge_page_to_list, with a .cold part listed first
    kernel_61 = _kernel(**{old: (f"{old}.cold", old)})
    assert resolve_targets(spec, kernel_61) == (old,)
    assert kernel_61[old].kprobe_symbol == old
    # neither: absent, naming both
    st = ProbeState(spec)
    st.targets = resolve_targets(spec, _kernel())
    assert mark_absent([st], lambda fn: False, "not in BTF nor /proc/kallsyms") == []
    assert st.reason == f"function {new}, {old} not in BTF nor /proc/kallsyms"


def test_a_cold_part_is_never_a_kprobe_target() -> None:
    cold_only = KernelFunction("f", False, ("f.cold",), 0, "")
    assert cold_only.present and cold_only.kprobe_symbol is None
    assert KernelFunction("f", False, ("f.cold", "f.isra.0"), 0, "").kprobe_symbol == "f.isra.0"


def test_unknown_group_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown probe group.*nosuch.*known: alloc"):
        check_groups(("alloc", "nosuch"))


def test_symbolic_names_from_a_print_format() -> None:
    names = symbolic_names(COLLAPSE_FORMAT, "status")
    assert names == {0: "failed", 1: "succeeded", 2: "pmd_null", 30: "page_filled"}
    assert symbolic_names(COLLAPSE_FORMAT, "isolated") == {}


def test_disagreement() -> None:
    assert disagreement(100, 101, EXACT) == pytest.approx(0.01)
    assert disagreement(0, 0, EXACT) == 0
    assert disagreement(100, 99, AT_MOST) == 0  # below the bound
    assert disagreement(100, 110, AT_MOST) == pytest.approx(0.1)
    assert disagreement(5, 0, ACTIVITY) == 1
    assert disagreement(5, 9, ACTIVITY) == 0
    with pytest.raises(ValueError, match="unknown cross-check kind 'maybe'"):
        disagreement(1, 1, "maybe")


def test_crosscheck_needs_an_interval_and_flags_a_silent_probe() -> None:
    check = Check(
        "split_pmd",
        facts.FN_SPLIT_HUGE_PMD,
        "vmstat thp_split_pmd",
        lambda k: k.get("vmstat:thp_split_pmd"),
        lambda r: None if (c := SPLIT_COUNTS.of(r)) is None else sum(c.values()),
        ACTIVITY,
    )
    cc = CrossCheck([check])
    attached = {facts.FN_SPLIT_HUGE_PMD}
    assert cc.compare({"vmstat:thp_split_pmd": 10}, RawMaps(split_counts={}), attached) == []
    (o,) = cc.compare({"vmstat:thp_split_pmd": 14}, RawMaps(split_counts={}), attached)
    assert o.disagreement == 1 and o.kernel_delta == 4 and o.bpf_delta == 0
    assert o.silent.startswith(
        "silent: attached but counted 0 while vmstat thp_split_pmd rose by 4"
    )
    (o,) = cc.compare(
        {"vmstat:thp_split_pmd": 15}, RawMaps(split_counts={SplitKey(0, 0): 1}), attached
    )
    assert o.disagreement == 0 and not o.silent
    assert cc.compare({"vmstat:thp_split_pmd": 16}, RawMaps(split_counts={}), set()) == []


def test_pmd_fault_check_uses_vmstat_where_there_are_no_per_size_stats() -> None:
    """6.1 has no hugepages-2048kB/stats: thp_fault_alloc + thp_fault_fallback stand in."""
    (check,) = [c for c in CHECKS if c.name == "pmd_fault"]
    vmstat_only = {"vmstat:thp_fault_alloc": 32, "vmstat:thp_fault_fallback": 1}
    assert check.kernel(vmstat_only) == 33
    per_size = {"mthp:2048kB:anon_fault_alloc": 5, "mthp:2048kB:anon_fault_fallback": 0}
    assert check.kernel(per_size | vmstat_only) == 5  # the per-size stats win where they exist
    assert check.kernel({}) is None
    faults = RawMaps(fault_counts={FaultKey(0, 0, 0): 32})
    cc = CrossCheck([check])
    attached = {facts.FN_DO_HUGE_PMD_ANON}
    assert cc.compare({"vmstat:thp_fault_alloc": 0}, RawMaps(fault_counts={}), attached) == []
    (o,) = cc.compare({"vmstat:thp_fault_alloc": 32}, faults, attached)
    assert (o.kernel_delta, o.bpf_delta, o.disagreement) == (32, 32, 0)


PMD_SWAPIN, PTE_SWAPIN = FAULT.index("pmd_swapin"), FAULT.index("pte_swapin")
MAJOR, RETRY = facts.VM_FAULT_MAJOR, facts.VM_FAULT_RETRY


def _swapin_outcomes(kernel0: dict, kernel1: dict, counts: dict) -> dict:
    """The swap-in checks over one interval: kernel counters kernel0 -> kernel1, BPF counts
    from nothing to `counts` ((fault, ret, split) -> calls)."""
    cc = CrossCheck([c for c in CHECKS if "swapin" in c.name])
    attached = {facts.FN_DO_HUGE_PMD_SWAP, facts.FN_DO_SWAP_PAGE}
    assert cc.compare(kernel0, RawMaps(fault_counts={}), attached) == []
    raw = RawMaps(fault_counts={FaultKey(*k): n for k, n in counts.items()})
    return {o.check: o for o in cc.compare(kernel1, raw, attached)}


def test_swapin_checks_compare_reads_with_reads_on_a_pmd_swap_kernel() -> None:
    """The issue's zram run: 8 whole PMD swap-ins read from the device put pswpin +4096; no
    do_swap_page read at all. pswpin is not compared with PTE swap-ins."""
    k0 = {"vmstat:pswpin": 100, "mthp:2048kB:swpin": 0, "mthp:2048kB:swpin_fallback": 0}
    k1 = {"vmstat:pswpin": 100 + 4096, "mthp:2048kB:swpin": 8, "mthp:2048kB:swpin_fallback": 0}
    got = _swapin_outcomes(k0, k1, {(PMD_SWAPIN, MAJOR, 0): 8})
    assert (got["pmd_swapin"].kernel_delta, got["pmd_swapin"].bpf_delta) == (8, 8)
    assert (got["pte_swapin"].kernel_delta, got["pte_swapin"].bpf_delta) == (0, 0)
    assert all(o.disagreement == 0 and not o.silent for o in got.values()), got


def test_swapin_checks_count_an_async_read_once_and_fallbacks_exactly() -> None:
    """Async device: 0x404 first calls then retried calls that the BPF side marks MAJOR (counted
    once, by the non-RETRY return); 2 split fallbacks, then 1024 PTE reads for their pages."""
    k0 = {"vmstat:pswpin": 0, "mthp:2048kB:swpin": 0, "mthp:2048kB:swpin_fallback": 0}
    k1 = {"vmstat:pswpin": 4 * 512 + 1024, "mthp:2048kB:swpin": 4, "mthp:2048kB:swpin_fallback": 2}
    counts = {
        (PMD_SWAPIN, MAJOR | RETRY, 0): 4,
        (PMD_SWAPIN, MAJOR, 0): 4,
        (PMD_SWAPIN, 0, 1): 2,
        (PTE_SWAPIN, MAJOR, 0): 1024,
        (PTE_SWAPIN, 0, 0): 7,  # swap-cache hits read nothing
    }
    got = _swapin_outcomes(k0, k1, counts)
    assert (got["pmd_swapin"].kernel_delta, got["pmd_swapin"].bpf_delta) == (4, 4)
    assert (got["pmd_swapin_fallback"].kernel_delta, got["pmd_swapin_fallback"].bpf_delta) == (2, 2)
    assert (got["pte_swapin"].kernel_delta, got["pte_swapin"].bpf_delta) == (1024, 1024)
    assert all(o.disagreement == 0 for o in got.values()), got


def test_swapin_checks_flag_a_miscount() -> None:
    k0 = {"vmstat:pswpin": 0, "mthp:2048kB:swpin": 0, "mthp:2048kB:swpin_fallback": 0}
    k1 = {"vmstat:pswpin": 512 * 3, "mthp:2048kB:swpin": 3, "mthp:2048kB:swpin_fallback": 0}
    # twice the whole reads the kernel counted (RETRYs are not reads), PTE reads it never made
    counts = {
        (PMD_SWAPIN, MAJOR | RETRY, 0): 3,
        (PMD_SWAPIN, MAJOR, 0): 6,
        (PTE_SWAPIN, MAJOR, 0): 5,
    }
    got = _swapin_outcomes(k0, k1, counts)
    assert got["pmd_swapin"].disagreement == pytest.approx(1.0)  # 6 vs 3
    assert got["pte_swapin"].disagreement == 5  # 5 reads above a bound of 0


def test_pte_level_reads_take_every_large_folio_read_out_of_pswpin() -> None:
    from thpwatch.probes.crosscheck import pte_level_swap_reads

    # 2 PMD reads (1024 pages), 3 reads of 64 KiB mTHPs (48 pages, 3 reads), 10 single pages
    k = {"vmstat:pswpin": 1024 + 48 + 10, "mthp:2048kB:swpin": 2, "mthp:64kB:swpin": 3}
    assert pte_level_swap_reads(k) == 3 + 10
    assert pte_level_swap_reads({"vmstat:pswpin": 7}) == 7  # no per-size stats: 4 KiB reads
    assert pte_level_swap_reads({}) is None


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def test_headers_prefer_modules_then_kheaders_then_merged_distro(tmp_path: Path) -> None:
    modules, distro, cache = tmp_path / "modules", tmp_path / "src", tmp_path / "cache"
    kheaders = tmp_path / "kheaders.tar.xz"
    _tree(distro / "linux-headers-6.1.0-9-common", {"include/linux/a.h": "common"})
    _tree(distro / "linux-headers-6.1.0-9-amd64", {"include/generated/b.h": "flavour"})
    kw = dict(
        modules=modules, kheaders=kheaders, distro=distro, cache_dirs=(cache,), environ_wins=False
    )

    got = find_headers("9.9.9", **kw)
    assert got.origin == "distro" and "6.1.0-9-common + linux-headers-6.1.0-9-amd64" in got.detail
    assert (got.path / "include/linux/a.h").read_text() == "common"
    assert (got.path / "include/generated/b.h").read_text() == "flavour"

    src = tmp_path / "kh"
    _tree(src, {"include/linux/kh.h": "kheaders"})
    with tarfile.open(kheaders, "w:xz") as tar:
        tar.add(src, arcname=".")
    got = find_headers("9.9.9", **kw)
    assert got.origin == "kheaders" and (got.path / "include/linux/kh.h").is_file()

    _tree(modules / "9.9.9/build", {"include/linux/m.h": ""})
    got = find_headers("9.9.9", **kw)
    assert got.origin == "modules" and got.path == modules / "9.9.9/build"


def test_no_headers_names_every_place_looked(tmp_path: Path) -> None:
    with pytest.raises(HeadersMissing) as e:
        find_headers(
            "9.9.9",
            modules=tmp_path,
            kheaders=tmp_path / "nope.tar.xz",
            distro=tmp_path,
            cache_dirs=(tmp_path,),
            environ_wins=False,
        )
    msg = str(e.value)
    assert "9.9.9/build: missing" in msg and "nope.tar.xz: missing" in msg
    assert "linux-headers-*-common" in msg


def test_merge_is_built_once_and_reused(tmp_path: Path) -> None:
    _tree(tmp_path / "c", {"x/1.h": "c"})
    _tree(tmp_path / "f", {"x/1.h": "f", "y/2.h": "f"})
    dest = merge_trees(tmp_path / "c", tmp_path / "f", tmp_path / "m")
    assert (dest / "x/1.h").read_text() == "f"  # the flavour tree wins
    (tmp_path / "f/z.h").write_text("new")
    merge_trees(tmp_path / "c", tmp_path / "f", tmp_path / "m")
    assert not (dest / "z.h").exists()


def test_a_user_chosen_tree_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path / "mine", {"include/linux/x.h": ""})
    monkeypatch.setenv("BCC_KERNEL_SOURCE", str(tmp_path / "mine"))
    got = find_headers("9.9.9", modules=tmp_path / "none")
    assert got.origin == "environment" and got.path == tmp_path / "mine"


def test_tracefs_that_cannot_be_mounted_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from thpwatch.probes import tracefs

    (tmp_path / "tracing").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mount"
    fake.write_text("#!/bin/sh\necho 'mount: only root can do that' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(tracefs, "TRACEFS", tmp_path / "tracing")
    monkeypatch.setattr(tracefs, "DEBUGFS_TRACING", tmp_path / "debug")
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    with pytest.raises(tracefs.TracefsUnavailable, match="mount -t tracefs.*only root can do that"):
        tracefs.tracefs_root()


def test_pmd_alloc_check_counts_only_thp_migratetypes() -> None:
    from thpwatch.probes.crosscheck import thp_migratetypes

    names = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "ReserveTHP", "Isolate")
    types = thp_migratetypes(names)
    assert types == {1, 4}
    raw = RawMaps(
        alloc_counts={
            AllocKey(9, 0, 0): 5,
            AllocKey(9, 1, 0): 7,
            AllocKey(9, 4, 1): 2,
            AllocKey(3, 1, 0): 9,
        }
    )
    assert allocs_of_order(9, types)(raw) == 9  # kmalloc_large's Unmovable order-9 left out
    assert allocs_of_order(9)(raw) == 14
    assert thp_migratetypes(()) is None
