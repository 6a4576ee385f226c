"""Consistency checks: firing on the unfixed-RFC and over-promised fixtures, quiet on a healthy
pool, and the page-table deposit estimate."""

from __future__ import annotations

import pytest
from fixturetree import FIXTURES, PATCHED, STOCK, collect, deny_reading, tree

from thpwatch.kernel.mthp import read_mthp
from thpwatch.kernel.pagetypeinfo import read_pagetypeinfo
from thpwatch.kernel.readings import KernelReadings
from thpwatch.kernel.reserved_thp import ReservedThpPool, read_reserved_thp
from thpwatch.snapshot import State, labels_of
from thpwatch.sources.checks import CheckResult, ChecksSource, deposit_estimate, reserved_checks

CHECKS = (
    "pool_used_plus_free",
    "reserve_pageblocks_match_pool",
    "quota_backed_by_free_blocks",
    "resident_within_pool",
)


def results(base: str) -> dict[str, CheckResult]:
    root = FIXTURES / base
    out = reserved_checks(read_reserved_thp(root), read_pagetypeinfo(root), page_size=4096)
    return {r.check: r for r in out}


def violated(base: str) -> dict[str, tuple[int, int]]:
    return {c: (r.observed, r.limit) for c, r in results(base).items() if r.violated}


def test_healthy_pool_violates_nothing():
    r = results("patched")
    assert set(r) == set(CHECKS)
    assert violated("patched") == {}
    assert (r["quota_backed_by_free_blocks"].observed, r["quota_backed_by_free_blocks"].limit) == (
        24,
        34,
    )
    assert (r["resident_within_pool"].observed, r["resident_within_pool"].limit) == (30, 64)


def test_unfixed_rfc_converted_pageblock():
    """65 ReserveTHP blocks for a 64-hpage pool, quota 63 with nothing free, 65 resident."""
    assert violated("patched-unfixed") == {
        "reserve_pageblocks_match_pool": (65, 64),
        "quota_backed_by_free_blocks": (63, 0),
        "resident_within_pool": (65, 64),
    }


def test_quota_promising_more_than_the_pool_has():
    assert violated("patched-overquota") == {"quota_backed_by_free_blocks": (64, 0)}


def test_used_plus_free_mismatch():
    pool = ReservedThpPool(total_hpages=64, free_hpages=30, used_hpages=40, hpage_bytes=2 << 20)
    r = {x.check: x for x in reserved_checks(pool, None)}
    assert set(r) == {"pool_used_plus_free"}  # pagetypeinfo unreadable: block checks skipped
    assert (r["pool_used_plus_free"].violated, r["pool_used_plus_free"].observed) == (True, 70)
    assert "70 vs 64" in r["pool_used_plus_free"].explanation


def test_pool_without_reservethp_column_is_a_mismatch():
    pool = read_reserved_thp(PATCHED)
    stock_blocks = read_pagetypeinfo(STOCK)
    r = {x.check: x for x in reserved_checks(pool, stock_blocks, page_size=4096)}
    assert (
        r["reserve_pageblocks_match_pool"].observed,
        r["reserve_pageblocks_match_pool"].limit,
    ) == (
        0,
        64,
    )
    assert r["reserve_pageblocks_match_pool"].violated


def test_checks_source_metric_ready():
    got, status = collect(ChecksSource(KernelReadings(FIXTURES / "patched-unfixed"), lambda: True))
    assert status.state is State.OK
    for check in CHECKS:
        assert ("thpwatch_check_violation", labels_of(check=check)) in got
    L = labels_of
    assert got[("thpwatch_check_violation", L(check="reserve_pageblocks_match_pool"))] == 1.0
    assert got[("thpwatch_check_observed", L(check="reserve_pageblocks_match_pool"))] == 65
    assert got[("thpwatch_check_limit", L(check="reserve_pageblocks_match_pool"))] == 64
    assert got[("thpwatch_check_violation", L(check="pool_used_plus_free"))] == 0.0


def test_deposit_estimate_levels():
    mthp = read_mthp(PATCHED)
    # 592 PMD-sized units = 80 PMD THPs + one 1 GiB THP (512 units)
    assert deposit_estimate(592, mthp, 2 << 20, deposits_pte_table=True) == {
        "pmd": 80 * 4096,
        "pud": 513 * 4096,
    }
    assert deposit_estimate(592, mthp, 2 << 20, deposits_pte_table=False)["pmd"] == 0
    assert "pmd" not in deposit_estimate(592, mthp, 2 << 20, deposits_pte_table=None)
    assert deposit_estimate(165, read_mthp(STOCK), 2 << 20, True) == {"pmd": 165 * 4096}


@pytest.mark.parametrize("lazy, pmd", [(True, 0), (False, 80 * 4096), (None, None)])
def test_checks_source_deposit(lazy, pmd):
    got, _ = collect(ChecksSource(KernelReadings(PATCHED), lambda: lazy))
    assert got.get(("thpwatch_pagetable_deposit_estimate_bytes", labels_of(level="pmd"))) == pmd
    assert got[("thpwatch_pagetable_deposit_estimate_bytes", labels_of(level="pud"))] == 513 * 4096


def test_stock_kernel_only_estimate():
    got, status = collect(ChecksSource(KernelReadings(STOCK), lambda: False))
    assert status.state is State.OK
    assert not any(name.startswith("thpwatch_check_") for name, _ in got)
    assert ("thpwatch_pagetable_deposit_estimate_bytes", labels_of(level="pmd")) in got


def test_unreadable_pagetypeinfo_keeps_pool_check(tmp_path, monkeypatch):
    root = tree(tmp_path)
    path = root / "proc/pagetypeinfo"
    deny_reading(monkeypatch, path)
    got, status = collect(ChecksSource(KernelReadings(root), lambda: True))
    assert status.state is State.ERROR
    assert status.reason == f"{path}: Permission denied; ReserveTHP block checks skipped"
    assert got[("thpwatch_check_violation", labels_of(check="pool_used_plus_free"))] == 0.0
    assert ("thpwatch_check_violation", labels_of(check="resident_within_pool")) not in got


def test_nothing_to_check_is_absent_with_reason():
    got, status = collect(ChecksSource(KernelReadings(STOCK), lambda: None))
    assert got == {}
    assert status.state is State.ABSENT
    assert "no Reserved THP pool" in status.reason and "lazy-PTE" in status.reason


@pytest.mark.parametrize(
    "case, reason",
    [
        ("pagetypeinfo-truncated", "truncated (no newline), ignored (and 1 more)"),
        ("pagetypeinfo-garbage-header", "line 1: expected a decimal number, got 'nine'"),
    ],
)
def test_partial_pagetypeinfo_never_fakes_a_violation(tmp_path, case, reason):
    got, status = collect(ChecksSource(KernelReadings(tree(tmp_path, case)), lambda: True))
    assert status.state is State.ERROR
    assert reason in status.reason and "ReserveTHP block checks skipped" in status.reason
    assert [labels for name, labels in got if name == "thpwatch_check_violation"] == [
        labels_of(check="pool_used_plus_free")
    ]
