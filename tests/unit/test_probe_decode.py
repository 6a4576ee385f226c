"""Decoding BPF map data into Samples, without BPF: histograms, errno names, fault outcomes."""

from __future__ import annotations

import pytest

from thpwatch.catalog import catalog
from thpwatch.kernel import facts
from thpwatch.probes.decode import (
    HIST_SLOTS,
    LogHist,
    Names,
    RawMaps,
    emit,
    fault_outcome,
    histogram,
    pmd_swapin_outcome,
)
from thpwatch.probes.errors import errno_name, result_name
from thpwatch.probes.metrics import LATENCY_BOUNDS
from thpwatch.snapshot import Histogram
from thpwatch.sources.base import Emitter


def slots(**at: int) -> tuple[int, ...]:
    """LogHist slots with counts at the given slot numbers (s5=2 -> slot 5 holds 2)."""
    out = [0] * HIST_SLOTS
    for key, n in at.items():
        out[int(key[1:])] = n
    return tuple(out)


def test_histogram_puts_each_log2_slot_under_the_first_bound_that_covers_it() -> None:
    # slot 10 holds 1024..2047 ns: above the 2^10 ns bound, within the 2^11 ns one.
    h = histogram(LogHist(slots(s3=1, s10=2, s62=1), sum_ns=3_000_000_000))
    assert h.bounds == LATENCY_BOUNDS
    assert h.bounds[0] == pytest.approx(1.024e-6) and h.bounds[1] == pytest.approx(2.048e-6)
    assert h.cumulative[0] == 1  # the 8..15 ns observation
    assert h.cumulative[1] == 3
    assert h.cumulative[-1] == 3  # slot 62 (~4.6e18 ns) is beyond every bound: only in count
    assert h.count == 4
    assert h.total == pytest.approx(3.0)


def test_histogram_of_nothing_is_empty_not_missing() -> None:
    h = histogram(LogHist(slots(), 0))
    assert isinstance(h, Histogram) and h.count == 0 and set(h.cumulative) == {0}


@pytest.mark.parametrize(
    ("ret", "name"),
    [(0, "ok"), (-11, "EAGAIN"), (-12, "ENOMEM"), (-22, "EINVAL"), (-4095, "E4095"), (3, "3")],
)
def test_result_names(ret: int, name: str) -> None:
    assert result_name(ret) == name


def test_errno_name() -> None:
    assert errno_name(1) == "EPERM"
    assert errno_name(2) == "ENOENT"


@pytest.mark.parametrize(
    ("ret", "outcome"),
    [
        (0, "ok"),
        (facts.VM_FAULT_MAJOR, "major"),
        (facts.VM_FAULT_FALLBACK, "fallback"),
        (facts.VM_FAULT_OOM, "oom"),
        (facts.VM_FAULT_SIGBUS, "sigbus"),
        (facts.VM_FAULT_SIGSEGV, "error"),
        # a retried first attempt is a retry whatever else is set
        (facts.VM_FAULT_RETRY | facts.VM_FAULT_MAJOR, "retry"),
        (facts.VM_FAULT_RETRY, "retry"),
    ],
)
def test_fault_outcome(ret: int, outcome: str) -> None:
    assert fault_outcome(ret) == outcome


def test_pmd_swapin_outcomes() -> None:
    assert pmd_swapin_outcome(0, split_fallback=False) == "whole_from_swap_cache"
    assert pmd_swapin_outcome(0, split_fallback=True) == "split_fallback"
    assert pmd_swapin_outcome(facts.VM_FAULT_MAJOR, split_fallback=False) == "whole_from_device"
    assert pmd_swapin_outcome(facts.VM_FAULT_SIGBUS, split_fallback=False) == "sigbus"
    assert pmd_swapin_outcome(facts.VM_FAULT_OOM, split_fallback=True) == "oom"  # split failed
    # the first call on an asynchronous device: the read is in flight, not a swap-in
    retry = facts.VM_FAULT_MAJOR | facts.VM_FAULT_RETRY
    assert pmd_swapin_outcome(retry, split_fallback=False) == "retry"


NAMES = Names(
    migratetypes=("Unmovable", "Movable", "Reclaimable", "HighAtomic", "ReserveTHP", "Isolate"),
    collapse_status={0: "failed", 1: "succeeded"},
    split_returns_value={facts.FN_SPLIT_HUGE_PMD: False, facts.FN_SPLIT_HUGE_PAGE: True},
)


def emitted(raw: RawMaps, attached: set[str]) -> Emitter:
    out = Emitter()
    emit(raw, attached, NAMES, out)
    return out


def series(out: Emitter, name: str) -> dict[tuple[tuple[str, str], ...], object]:
    return {s.labels: s.value for s in out.samples if s.name == name}


def test_page_allocs_are_named_by_migratetype_column_and_reserved_bit() -> None:
    raw = RawMaps(alloc={(9, 4, 1): 7, (9, 1, 0): 3, (3, 9, 0): 1})
    got = series(emitted(raw, {"mm_page_alloc"}), "thpwatch_page_alloc_total")
    assert got[(("migratetype", "ReserveTHP"), ("order", "9"), ("reserved_gfp", "yes"))] == 7
    assert got[(("migratetype", "Movable"), ("order", "9"), ("reserved_gfp", "no"))] == 3
    # an index beyond the known columns stays a number rather than a wrong name
    assert got[(("migratetype", "9"), ("order", "3"), ("reserved_gfp", "no"))] == 1


def test_madvise_calls_bytes_and_top_processes() -> None:
    raw = RawMaps(
        madvise={
            (facts.MADV_HUGEPAGE, 0, 0): 2,
            (facts.MADV_HUGEPAGE, 0, 1): 4 << 20,
            (facts.MADV_RESERVED_THP, -11, 0): 1,
            (facts.MADV_RESERVED_THP, -11, 1): 2 << 20,
        },
        madvise_procs=[(10 + i, f"p{i}", i, i * 4096) for i in range(15)],
    )
    out = emitted(raw, {"madvise"})
    calls = series(out, "thpwatch_madvise_calls_total")
    assert calls[(("advice", "hugepage"), ("result", "ok"))] == 2
    assert calls[(("advice", "reserved_thp"), ("result", "EAGAIN"))] == 1
    nbytes = series(out, "thpwatch_madvise_bytes_total")
    assert nbytes[(("advice", "reserved_thp"), ("result", "EAGAIN"))] == 2 << 20
    top = series(out, "thpwatch_madvise_top_process_calls_total")
    assert len(top) == 10
    assert top[(("comm", "p14"), ("pid", "24"))] == 14
    assert (("comm", "p0"), ("pid", "10")) not in top  # bounded: the fewest calls drop out


def test_nothing_is_emitted_for_a_probe_that_is_not_attached() -> None:
    raw = RawMaps(
        alloc={(9, 1, 0): 3},
        fault_hist=[LogHist(slots(), 0)] * 5,
        fault_counts={(0, 0, 0): 1},
        collapse={1: 2},
    )
    out = emitted(raw, set())
    assert out.samples == []


def test_faults_by_kind_and_outcome_with_swapin_split_fallback() -> None:
    raw = RawMaps(
        fault_hist=[LogHist(slots(s12=1), 5000)] + [LogHist(slots(), 0)] * 4,
        fault_counts={
            (0, 0, 0): 5,
            (0, facts.VM_FAULT_RETRY, 0): 2,
            (0, facts.VM_FAULT_OOM, 0): 1,
            (2, 0, 1): 3,
            (2, facts.VM_FAULT_MAJOR, 0): 4,
        },
    )
    attached = {facts.FN_DO_HUGE_PMD_ANON, facts.FN_DO_HUGE_PMD_SWAP}
    out = emitted(raw, attached)
    faults = series(out, "thpwatch_faults_total")
    assert faults[(("fault", "pmd_anon"), ("outcome", "ok"))] == 5
    assert faults[(("fault", "pmd_anon"), ("outcome", "retry"))] == 2
    assert faults[(("fault", "pmd_anon"), ("outcome", "oom"))] == 1
    assert faults[(("fault", "pmd_swapin"), ("outcome", "ok"))] == 3
    swapin = series(out, "thpwatch_pmd_swapin_total")
    assert swapin == {(("outcome", "split_fallback"),): 3, (("outcome", "whole_from_device"),): 4}
    hists = series(out, "thpwatch_fault_seconds")
    assert set(hists) == {(("fault", "pmd_anon"),), (("fault", "pmd_swapin"),)}


def test_splits_name_results_only_where_the_prototype_returns_a_value() -> None:
    raw = RawMaps(
        split_hist=[LogHist(slots(s15=2), 70000)] * 3,
        split_counts={(0, 0): 6, (2, 0): 4, (2, -16): 1},
    )
    attached = {facts.FN_SPLIT_HUGE_PMD, facts.FN_SPLIT_HUGE_PAGE}
    got = series(emitted(raw, attached), "thpwatch_splits_total")
    assert got == {
        (("level", "pmd"), ("result", "returned")): 6,
        (("level", "folio"), ("result", "ok")): 4,
        (("level", "folio"), ("result", "EBUSY")): 1,
    }


def test_reserved_charge_results_and_collapse_status_names() -> None:
    raw = RawMaps(
        charge={(0, 0): 3, (0, 1): 12, (-12, 0): 1, (-12, 1): 64},
        uncharge=[2, 8],
        collapse={1: 5, 0: 1, 99: 1},
    )
    attached = {
        facts.FN_RESERVED_THP_CHARGE,
        facts.FN_RESERVED_THP_UNCHARGE,
        "collapse_huge_page",
    }
    out = emitted(raw, attached)
    assert series(out, "thpwatch_reserved_thp_charge_total") == {
        (("result", "ok"),): 3,
        (("result", "ENOMEM"),): 1,
    }
    assert series(out, "thpwatch_reserved_thp_charge_hpages_total")[(("result", "ENOMEM"),)] == 64
    assert series(out, "thpwatch_reserved_thp_uncharge_hpages_total") == {(): 8}
    assert series(out, "thpwatch_khugepaged_collapse_total") == {
        (("status", "succeeded"),): 5,
        (("status", "failed"),): 1,
        (("status", "99"),): 1,
    }


def test_every_emitted_name_is_in_the_catalog() -> None:
    raw = RawMaps(
        alloc={(9, 1, 0): 1},
        madvise={(14, 0, 0): 1, (14, 0, 1): 1},
        madvise_procs=[(1, "x", 1, 1)],
        stalls=[LogHist(slots(), 0)] * 2,
        collapse={1: 1},
        migrate=[1, 0, 0],
        fault_hist=[LogHist(slots(), 0)] * 5,
        fault_counts={(f, 0, 0): 1 for f in range(5)},
        split_hist=[LogHist(slots(), 0)] * 3,
        split_counts={(lv, 0): 1 for lv in range(3)},
        charge={(0, 0): 1, (0, 1): 1},
        uncharge=[1, 1],
    )
    from thpwatch.probes.specs import PROBES

    out = emitted(raw, {p.name for p in PROBES})
    names = {s.name for s in out.samples}
    assert len(names) == 17
    assert all(n in catalog() for n in names), names - {n for n in names if n in catalog()}
