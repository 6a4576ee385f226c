"""Decoding BPF map data into Samples, without BPF: histograms, errno names, fault outcomes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from thpwatch.catalog import catalog
from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.probes.decode import emit
from thpwatch.probes.errors import errno_name, result_name
from thpwatch.probes.group import Names
from thpwatch.probes.groups.alloc import AllocKey
from thpwatch.probes.groups.faults import FaultKey, fault_outcome
from thpwatch.probes.groups.khugepaged import CollapseKey
from thpwatch.probes.groups.madvise import MadviseKey, MadviseProcess
from thpwatch.probes.groups.reserved import ChargeKey
from thpwatch.probes.groups.splits import SplitKey
from thpwatch.probes.groups.swapin import pmd_swapin_outcome
from thpwatch.probes.histogram import HIST_SLOTS, LATENCY_BOUNDS, LogHist, histogram
from thpwatch.probes.maps import RawMaps
from thpwatch.snapshot import Histogram


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
    reserved_thp=True,
)


def emitted(raw: RawMaps, attached: set[str], pid_labels: bool = False) -> Emitter:
    out = Emitter()
    emit(raw, attached, NAMES, out, pid_labels=pid_labels)
    return out


def series(out: Emitter, name: str) -> dict[tuple[tuple[str, str], ...], object]:
    return {s.labels: s.value for s in out.samples if s.name == name}


def test_page_allocs_are_named_by_migratetype_column_and_reserved_bit() -> None:
    raw = RawMaps(alloc_counts={AllocKey(9, 4, 1): 7, AllocKey(9, 1, 0): 3, AllocKey(3, 9, 0): 1})
    got = series(emitted(raw, {"mm_page_alloc"}), "thpwatch_page_alloc_total")
    assert got[(("migratetype", "ReserveTHP"), ("order", "9"), ("reserved_gfp", "yes"))] == 7
    assert got[(("migratetype", "Movable"), ("order", "9"), ("reserved_gfp", "no"))] == 3
    # an index beyond the known columns stays a number rather than a wrong name
    assert got[(("migratetype", "9"), ("order", "3"), ("reserved_gfp", "no"))] == 1


def test_madvise_calls_bytes_and_top_processes() -> None:
    raw = RawMaps(
        madv_counts={
            MadviseKey(facts.MADV_HUGEPAGE, 0, 0): 2,
            MadviseKey(facts.MADV_HUGEPAGE, 0, 1): 4 << 20,
            MadviseKey(facts.MADV_RESERVED_THP, -11, 0): 1,
            MadviseKey(facts.MADV_RESERVED_THP, -11, 1): 2 << 20,
        },
        madv_procs=[MadviseProcess(10 + i, f"p{i}", i, i * 4096) for i in range(15)],
    )
    out = emitted(raw, {"madvise"})
    calls = series(out, "thpwatch_madvise_calls_total")
    assert calls[(("advice", "hugepage"), ("result", "ok"))] == 2
    assert calls[(("advice", "reserved_thp"), ("result", "EAGAIN"))] == 1
    nbytes = series(out, "thpwatch_madvise_bytes_total")
    assert nbytes[(("advice", "reserved_thp"), ("result", "EAGAIN"))] == 2 << 20
    top = series(out, "thpwatch_madvise_top_process_calls_total")
    assert len(top) == 10
    assert top[(("comm", "p14"),)] == 14  # no pid label unless asked (README, docs/probes.md)
    assert (("comm", "p0"),) not in top  # bounded: the fewest calls drop out
    by_pid = series(
        emitted(raw, {"madvise"}, pid_labels=True), "thpwatch_madvise_top_process_calls_total"
    )
    assert by_pid[(("comm", "p14"), ("pid", "24"))] == 14
    assert len(by_pid) == 10


def test_madvise_top_processes_sum_by_comm_and_escape_odd_names() -> None:
    raw = RawMaps(
        madv_counts={MadviseKey(facts.MADV_HUGEPAGE, 0, 0): 6},
        madv_procs=[
            MadviseProcess(10, "java", 2, 8192),
            MadviseProcess(11, "java", 3, 4096),
            MadviseProcess(12, "x\udcff", 1, 1),
        ],
    )
    out = emitted(raw, {"madvise"})
    assert series(out, "thpwatch_madvise_top_process_calls_total") == {
        (("comm", "java"),): 5,
        (("comm", "x\\xff"),): 1,
    }
    assert series(out, "thpwatch_madvise_top_process_bytes_total")[(("comm", "java"),)] == 12288
    assert not any(dict(s.labels).get("pid") for s in out.samples)


def test_nothing_is_emitted_for_a_probe_that_is_not_attached() -> None:
    raw = RawMaps(
        alloc_counts={AllocKey(9, 1, 0): 3},
        fault_hist=[LogHist(slots(), 0)] * 5,
        fault_counts={FaultKey(0, 0, 0): 1},
        collapse_counts={CollapseKey(1): 2},
    )
    out = emitted(raw, set())
    assert out.samples == []


def test_faults_by_kind_and_outcome_with_swapin_split_fallback() -> None:
    raw = RawMaps(
        fault_hist=[LogHist(slots(s12=1), 5000)] + [LogHist(slots(), 0)] * 4,
        fault_counts={
            FaultKey(0, 0, 0): 5,
            FaultKey(0, facts.VM_FAULT_RETRY, 0): 2,
            FaultKey(0, facts.VM_FAULT_OOM, 0): 1,
            FaultKey(2, 0, 1): 3,
            FaultKey(2, facts.VM_FAULT_MAJOR, 0): 4,
        },
    )
    attached = {facts.FN_DO_HUGE_PMD_ANON, facts.FN_DO_HUGE_PMD_SWAP}
    out = emitted(raw, attached)
    faults = series(out, "thpwatch_faults_total")
    assert faults[(("fault", "pmd_anon"), ("outcome", "ok"))] == 5
    assert faults[(("fault", "pmd_anon"), ("outcome", "retry"))] == 2
    assert faults[(("fault", "pmd_anon"), ("outcome", "oom"))] == 1
    assert faults[(("fault", "pmd_swapin"), ("outcome", "ok"))] == 3
    swapin = {k: v for k, v in series(out, "thpwatch_pmd_swapin_total").items() if v}
    assert swapin == {(("outcome", "split_fallback"),): 3, (("outcome", "whole_from_device"),): 4}
    hists = series(out, "thpwatch_fault_seconds")
    assert set(hists) == {(("fault", "pmd_anon"),), (("fault", "pmd_swapin"),)}


def test_splits_name_results_only_where_the_prototype_returns_a_value() -> None:
    raw = RawMaps(
        split_hist=[LogHist(slots(s15=2), 70000)] * 3,
        split_counts={SplitKey(0, 0): 6, SplitKey(2, 0): 4, SplitKey(2, -16): 1},
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
        charge_counts={
            ChargeKey(0, 0): 3,
            ChargeKey(0, 1): 12,
            ChargeKey(-12, 0): 1,
            ChargeKey(-12, 1): 64,
        },
        uncharge_counts=[2, 8],
        collapse_counts={CollapseKey(1): 5, CollapseKey(0): 1, CollapseKey(99): 1},
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
        alloc_counts={AllocKey(9, 1, 0): 1},
        madv_counts={MadviseKey(14, 0, 0): 1, MadviseKey(14, 0, 1): 1},
        madv_procs=[MadviseProcess(1, "x", 1, 1)],
        stall_hist=[LogHist(slots(), 0)] * 2,
        collapse_counts={CollapseKey(1): 1},
        migrate_counts=[1, 0, 0],
        fault_hist=[LogHist(slots(), 0)] * 5,
        fault_counts={FaultKey(f, 0, 0): 1 for f in range(5)},
        split_hist=[LogHist(slots(), 0)] * 3,
        split_counts={SplitKey(lv, 0): 1 for lv in range(3)},
        charge_counts={ChargeKey(0, 0): 1, ChargeKey(0, 1): 1},
        uncharge_counts=[1, 1],
    )
    from thpwatch.probes.specs import PROBES

    out = emitted(raw, {p.name for p in PROBES})
    names = {s.name for s in out.samples}
    assert len(names) == 17
    assert all(n in catalog() for n in names), names - {n for n in names if n in catalog()}


# -- known label sets start at 0 once their probe is attached ------------------------------------


def test_attached_probes_have_their_known_label_sets_at_zero_before_any_event() -> None:
    attached = {"madvise", "collapse_huge_page", "migrate_pages", "mm_page_alloc"}
    attached |= {facts.FN_DO_HUGE_PMD_SWAP, facts.FN_SPLIT_HUGE_PMD, facts.FN_SPLIT_HUGE_PAGE}
    raw = RawMaps(
        alloc_counts={}, madv_counts={}, collapse_counts={}, migrate_counts=[0, 0, 0],
        fault_hist=[LogHist(slots(), 0)] * 5, fault_counts={},
        split_hist=[LogHist(slots(), 0)] * 3, split_counts={},
    )  # fmt: skip
    out = emitted(raw, attached)
    calls = series(out, "thpwatch_madvise_calls_total")
    assert calls == {(("advice", a), ("result", "ok")): 0 for a in facts.MADV_NAMES.values()}
    assert series(out, "thpwatch_madvise_bytes_total") == calls
    # a kernel without the Reserved THP series: its advice is not a label set (absent, not 0)
    stock = Emitter()
    emit(raw, attached, replace(NAMES, reserved_thp=False), stock)
    advices = {dict(k)["advice"] for k in series(stock, "thpwatch_madvise_calls_total")}
    assert advices == set(facts.MADV_NAMES.values()) - {"reserved_thp"}
    assert set(series(out, "thpwatch_khugepaged_collapse_total")) == {
        (("status", "failed"),),
        (("status", "succeeded"),),
    }
    alloc = series(out, "thpwatch_page_alloc_total")
    assert len(alloc) == len(NAMES.migratetypes) * 2 and set(alloc.values()) == {0}
    assert (("migratetype", "ReserveTHP"), ("order", "9"), ("reserved_gfp", "yes")) in alloc
    faults = series(out, "thpwatch_faults_total")
    assert {dict(k)["fault"] for k in faults} == {"pmd_swapin"}  # only its probe is attached
    assert {dict(k)["outcome"] for k in faults} >= {"ok", "oom", "fallback", "retry"}
    swapin = series(out, "thpwatch_pmd_swapin_total")
    assert {dict(k)["outcome"] for k in swapin} >= {
        "whole_from_swap_cache",
        "whole_from_device",
        "split_fallback",
    }
    splits = series(out, "thpwatch_splits_total")
    assert splits == {  # void __split_huge_pmd: `returned`; split_huge_page_to_list: `ok`
        (("level", "pmd"), ("result", "returned")): 0,
        (("level", "folio"), ("result", "ok")): 0,
    }
    assert set(series(out, "thpwatch_fault_seconds")) == {(("fault", "pmd_swapin"),)}
    for sample in out.samples:
        assert sample.name in catalog(), sample.name
    names = [(s.name, s.labels) for s in out.samples]
    assert len(names) == len(set(names)), "a label set emitted twice"


def test_a_counted_label_set_keeps_its_count_and_is_not_zeroed_again() -> None:
    hugepage = facts.MADV_HUGEPAGE
    raw = RawMaps(
        madv_counts={
            MadviseKey(hugepage, 0, 0): 3,
            MadviseKey(hugepage, 0, 1): 4 << 20,
            MadviseKey(hugepage, -22, 0): 1,
        }
    )
    out = emitted(raw, {"madvise"})
    calls = series(out, "thpwatch_madvise_calls_total")
    assert calls[(("advice", "hugepage"), ("result", "ok"))] == 3
    assert calls[(("advice", "hugepage"), ("result", "EINVAL"))] == 1
    assert calls[(("advice", "collapse"), ("result", "ok"))] == 0
    assert len([s for s in out.samples if s.name == "thpwatch_madvise_calls_total"]) == len(calls)


def test_probes_not_attached_export_no_zeros() -> None:
    """Absent or blocked probes: their families stay missing (their state says why)."""
    raw = RawMaps(
        madv_counts={},
        fault_hist=[LogHist(slots(), 0)] * 5,
        fault_counts={},
        uncharge_counts=[0, 0],
    )
    assert emitted(raw, set()).samples == []
    out = emitted(raw, {"madvise"})
    assert {s.name for s in out.samples} == {
        "thpwatch_madvise_calls_total",
        "thpwatch_madvise_bytes_total",
    }


def test_every_known_label_set_names_a_declared_label_of_a_declared_metric() -> None:
    from thpwatch.probes.metrics import KNOWN, METRICS
    from thpwatch.probes.specs import PROBES

    declared = {m.name: m for m in METRICS}
    probes = {p.name for p in PROBES}
    for known in KNOWN:
        assert known.metric in declared and known.metric.endswith("_total"), known.metric
        assert tuple(label for label, _ in known.values) == declared[known.metric].labels
        assert known.probe in probes, known.probe
