"""Probe specs, tracefs format parsing, header discovery and cross-check arithmetic."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from thpwatch.kernel import facts
from thpwatch.probes.crosscheck import CHECKS, Check, CrossCheck, disagreement
from thpwatch.probes.decode import RawMaps
from thpwatch.probes.headers import HeadersMissing, find_headers, merge_trees
from thpwatch.probes.kernel_functions import KernelFunction
from thpwatch.probes.loader import BPF_DIR, ProbeState, _mark_absent, program_text, resolve_targets
from thpwatch.probes.specs import FUNCTION_PROBES, GROUPS, PROBES, check_groups, probes_of
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
        assert (BPF_DIR / p.file).is_file(), p.file
    assert set(GROUPS) == {p.group for p in PROBES}


def test_each_group_alone_selects_only_its_probes_and_file() -> None:
    for group in GROUPS:
        probes = probes_of((group,))
        assert probes and {p.group for p in probes} == {group}
        text = program_text(probes)
        assert text.count("/* ") >= 1 and text.startswith(f"/* {probes[0].file} */")


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
    assert _mark_absent([st], lambda fn: False, "not in BTF nor /proc/kallsyms") == []
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
    assert disagreement(100, 101, exact=True) == pytest.approx(0.01)
    assert disagreement(0, 0, exact=True) == 0
    assert disagreement(5, 0, exact=False) == 1
    assert disagreement(5, 9, exact=False) == 0


def test_crosscheck_needs_an_interval_and_flags_a_silent_probe() -> None:
    check = Check(
        "split_pmd",
        facts.FN_SPLIT_HUGE_PMD,
        "vmstat thp_split_pmd",
        lambda k: k.get("vmstat:thp_split_pmd"),
        lambda r: None if r.split_counts is None else sum(r.split_counts.values()),
        exact=False,
    )
    cc = CrossCheck([check])
    attached = {facts.FN_SPLIT_HUGE_PMD}
    assert cc.compare({"vmstat:thp_split_pmd": 10}, RawMaps(split_counts={}), attached) == []
    (o,) = cc.compare({"vmstat:thp_split_pmd": 14}, RawMaps(split_counts={}), attached)
    assert o.disagreement == 1 and o.kernel_delta == 4 and o.bpf_delta == 0
    assert o.silent.startswith(
        "silent: attached but counted 0 while vmstat thp_split_pmd rose by 4"
    )
    (o,) = cc.compare({"vmstat:thp_split_pmd": 15}, RawMaps(split_counts={(0, 0): 1}), attached)
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
    faults = RawMaps(fault_counts={(0, 0, 0): 32})
    cc = CrossCheck([check])
    attached = {facts.FN_DO_HUGE_PMD_ANON}
    assert cc.compare({"vmstat:thp_fault_alloc": 0}, RawMaps(fault_counts={}), attached) == []
    (o,) = cc.compare({"vmstat:thp_fault_alloc": 32}, faults, attached)
    assert (o.kernel_delta, o.bpf_delta, o.disagreement) == (32, 32, 0)


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
    from thpwatch.probes.crosscheck import allocs_of_order, thp_migratetypes

    names = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "ReserveTHP", "Isolate")
    types = thp_migratetypes(names)
    assert types == {1, 4}
    raw = RawMaps(alloc={(9, 0, 0): 5, (9, 1, 0): 7, (9, 4, 1): 2, (3, 1, 0): 9})
    assert allocs_of_order(9, types)(raw) == 9  # kmalloc_large's Unmovable order-9 left out
    assert allocs_of_order(9)(raw) == 14
    assert thp_migratetypes(()) is None
