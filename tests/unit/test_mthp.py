from __future__ import annotations

from fixturetree import PATCHED, STOCK, tree

from thpwatch.kernel import facts
from thpwatch.kernel.mthp import read_mthp
from thpwatch.kernel.text import Mode

STOCK_STATS = {
    "anon_fault_alloc", "anon_fault_declined", "anon_fault_fallback", "anon_fault_fallback_charge",
    "nr_anon", "nr_anon_partially_mapped", "shmem_alloc", "shmem_fallback",
    "shmem_fallback_charge", "split", "split_deferred", "split_failed", "swpin", "swpin_fallback",
    "swpin_fallback_charge", "swpout", "swpout_fallback", "zswpout",
}  # fmt: skip


def test_stock_sizes_discovered():
    r = read_mthp(STOCK)
    assert [s.size for s in r.sizes] == [
        f"{kb}kB" for kb in (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
    ]
    assert r.problems == ()
    pmd = r.size("2048kB")
    assert pmd.size_bytes == 2 << 20
    assert pmd.enabled == Mode("inherit", ("always", "inherit", "madvise", "never"))
    assert pmd.shmem_enabled.current == "inherit"
    assert {name for name, _ in pmd.stats} == STOCK_STATS


def test_patched_pud_size_and_values():
    r = read_mthp(PATCHED)
    assert r.sizes[-1].size == "1048576kB"
    pud = r.size("1048576kB")
    assert pud.size_bytes == 1 << 30
    assert pud.enabled.current == "madvise"
    assert pud.shmem_enabled is None  # no shmem THP at PUD order
    assert (pud.stat("anon_fault_alloc"), pud.stat("nr_anon"), pud.stat("split")) == (3, 1, 2)
    pmd = r.size("2048kB")
    assert pmd.enabled.current == "madvise"
    assert (pmd.stat("anon_fault_alloc"), pmd.stat("swpin_fallback"), pmd.stat("nr_anon")) == (
        4120,
        6,
        80,
    )


def test_gauge_rule():
    assert facts.is_gauge_stat("nr_anon") and not facts.is_gauge_stat("anon_fault_alloc")


def test_bad_files_are_problems_rest_kept(tmp_path):
    r = read_mthp(tree(tmp_path, "mthp-garbage-stat"))
    thp = tmp_path / "mthp-garbage-stat/sys/kernel/mm/transparent_hugepage"
    assert sorted(r.problems) == [
        f"{thp}/hugepages-2048kB/stats/anon_fault_alloc: line 1: expected a decimal number,"
        " got 'lots'",
        f"{thp}/hugepages-64kB/enabled: line 1: expected choices with one [current], got"
        " 'always inherit madvise never'",
    ]
    pmd = r.size("2048kB")
    assert pmd.stat("anon_fault_alloc") is None
    assert pmd.stat("split") == 310  # the other stats of the same size are still read
    assert r.size("64kB").enabled is None
    assert r.size("64kB").stat("anon_fault_alloc") == 900


def test_unknown_stat_names_are_discovered(tmp_path):
    r = read_mthp(tree(tmp_path, "mthp-unknown-stat"))
    assert r.problems == ()
    assert r.size("2048kB").stat("anon_fault_future") == 7
    assert r.size("2048kB").stat("nr_future_gauge") == 3
