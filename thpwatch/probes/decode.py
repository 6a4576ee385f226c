"""BPF map contents -> Samples. Pure functions on plain Python data (RawMaps), so every
conversion is unit-tested without BPF; reading the maps out of bcc is the only bcc-specific part.

Map names, key layouts and index constants mirror bpf/*.bpf.c.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from thpwatch.kernel import facts
from thpwatch.probes.errors import result_name
from thpwatch.probes.metrics import LATENCY_BOUNDS
from thpwatch.snapshot import Histogram
from thpwatch.sources.base import Emitter

HIST_SLOTS = 63  # THPW_HIST_SLOTS: slot s counts ns values in [2^s, 2^(s+1))
STALLS = ("direct_reclaim", "compaction")  # stall_hist index -> probe
FAULTS = ("pmd_anon", "pud_anon", "pmd_swapin", "pte_swapin", "any")  # enum thpw_fault
FAULT_PROBES = (
    facts.FN_DO_HUGE_PMD_ANON,
    facts.FN_DO_HUGE_PUD_ANON,
    facts.FN_DO_HUGE_PMD_SWAP,
    facts.FN_DO_SWAP_PAGE,
    facts.FN_HANDLE_MM_FAULT,
)
SPLITS = ("pmd", "pud", "folio")
SPLIT_PROBES = (facts.FN_SPLIT_HUGE_PMD, facts.FN_SPLIT_HUGE_PUD, facts.FN_SPLIT_HUGE_PAGE)
MIGRATION_RESULTS = ("succeeded", "failed", "split")
TOP_PROCESSES = 10
_OTHER_FAULT_ERRORS = (
    facts.VM_FAULT_SIGSEGV | facts.VM_FAULT_HWPOISON | facts.VM_FAULT_HWPOISON_LARGE
)


@dataclass(frozen=True)
class LogHist:
    """One BPF histogram summed over CPUs: counts per log2(ns) slot and the sum in ns."""

    slots: tuple[int, ...]
    sum_ns: int


def histogram(h: LogHist, bounds: Sequence[float] = LATENCY_BOUNDS) -> Histogram:
    """Prometheus histogram (seconds) from log2-ns slots. Slot s holds values below 2^(s+1) ns,
    so it falls in every bucket whose bound is >= 2^(s+1) ns; bounds must be such powers of two."""
    cumulative = []
    for bound in bounds:
        limit_ns = round(bound * 1e9)
        cumulative.append(sum(c for s, c in enumerate(h.slots) if 2 ** (s + 1) <= limit_ns))
    return Histogram(tuple(bounds), tuple(cumulative), sum(h.slots), h.sum_ns / 1e9)


def fault_outcome(ret: int) -> str:
    """Generic outcome of a fault handler's vm_fault_t. RETRY first: a retried first attempt
    (per-VMA lock dropped, redone under mmap_lock) is not a failure."""
    if ret & facts.VM_FAULT_RETRY:
        return "retry"
    if ret & facts.VM_FAULT_OOM:
        return "oom"
    if ret & facts.VM_FAULT_SIGBUS:
        return "sigbus"
    if ret & facts.VM_FAULT_FALLBACK:
        return "fallback"
    if ret & _OTHER_FAULT_ERRORS:
        return "error"
    if ret & facts.VM_FAULT_MAJOR:
        return "major"
    return "ok"


def pmd_swapin_outcome(ret: int, split_fallback: bool) -> str:
    """do_huge_pmd_swap_page: a split fallback returns 0 after splitting the swap PMD; a whole
    swap-in read from the device returns VM_FAULT_MAJOR (on an asynchronous device the BPF side
    moves the MAJOR of the 0x404 first call onto the thread's retried call), one served by the
    swap cache returns 0 (as does a call that found the PMD changed meanwhile, a benign race)."""
    generic = fault_outcome(ret)
    if generic == "major":
        return "whole_from_device"
    if generic == "ok":
        return "split_fallback" if split_fallback else "whole_from_swap_cache"
    return generic


@dataclass
class RawMaps:
    """The BPF maps, summed over CPUs. None: that map's group was not loaded."""

    alloc: dict[tuple[int, int, int], int] | None = None  # (order, migratetype, reserved)
    madvise: dict[tuple[int, int, int], int] | None = None  # (advice, ret, field 0|1)
    madvise_procs: list[tuple[int, str, int, int]] | None = None  # (tgid, comm, calls, bytes)
    stalls: list[LogHist] | None = None
    collapse: dict[int, int] | None = None
    migrate: list[int] | None = None
    fault_hist: list[LogHist] | None = None
    fault_counts: dict[tuple[int, int, int], int] | None = None  # (fault, ret, split_fallback)
    split_hist: list[LogHist] | None = None
    split_counts: dict[tuple[int, int], int] | None = None  # (level, ret)
    charge: dict[tuple[int, int], int] | None = None  # (ret, field 0 calls|1 hpages)
    uncharge: list[int] | None = None  # [calls, hpages]


@dataclass(frozen=True)
class Names:
    """Names the kernel gives to numbers, read at start-up."""

    migratetypes: tuple[str, ...] = ()  # /proc/pagetypeinfo column order
    collapse_status: Mapping[int, str] = field(default_factory=dict)  # from the event format
    split_returns_value: Mapping[str, bool] = field(default_factory=dict)  # probe -> BTF


def _migratetype(names: Names, index: int) -> str:
    if 0 <= index < len(names.migratetypes):
        return names.migratetypes[index]
    return str(index)


def emit(raw: RawMaps, attached: Iterable[str], names: Names, out: Emitter) -> None:
    """Add the samples of every attached probe; a probe not attached adds nothing (absent,
    not zero)."""
    on = set(attached)
    if raw.alloc is not None and "mm_page_alloc" in on:
        for (order, mt, reserved), n in sorted(raw.alloc.items()):
            out.add(
                "thpwatch_page_alloc_total",
                n,
                order=str(order),
                migratetype=_migratetype(names, mt),
                reserved_gfp="yes" if reserved else "no",
            )
    if raw.madvise is not None and "madvise" in on:
        _emit_madvise(raw, out)
    if raw.stalls is not None:
        for metric, probe, h in zip(
            ("thpwatch_direct_reclaim_seconds", "thpwatch_compaction_seconds"),
            STALLS,
            raw.stalls,
            strict=True,
        ):
            if probe in on:
                out.add(metric, histogram(h))
    if raw.collapse is not None and "collapse_huge_page" in on:
        for status, n in sorted(raw.collapse.items()):
            label = names.collapse_status.get(status, str(status))
            out.add("thpwatch_khugepaged_collapse_total", n, status=label)
    if raw.migrate is not None and "migrate_pages" in on:
        for result, n in zip(MIGRATION_RESULTS, raw.migrate, strict=True):
            out.add("thpwatch_thp_migration_total", n, result=result)
    _emit_faults(raw, on, out)
    _emit_splits(raw, on, names, out)
    _emit_reserved(raw, on, out)


def _emit_madvise(raw: RawMaps, out: Emitter) -> None:
    assert raw.madvise is not None
    for (advice, ret, fld), n in sorted(raw.madvise.items()):
        name = "thpwatch_madvise_bytes_total" if fld else "thpwatch_madvise_calls_total"
        out.add(name, n, advice=facts.MADV_NAMES.get(advice, str(advice)), result=result_name(ret))
    top = sorted(raw.madvise_procs or (), key=lambda p: (-p[2], p[0]))[:TOP_PROCESSES]
    for tgid, comm, calls, nbytes in top:
        out.add("thpwatch_madvise_top_process_calls_total", calls, pid=str(tgid), comm=comm)
        out.add("thpwatch_madvise_top_process_bytes_total", nbytes, pid=str(tgid), comm=comm)


def _emit_faults(raw: RawMaps, on: set[str], out: Emitter) -> None:
    if raw.fault_hist is None or raw.fault_counts is None:
        return
    for fault, probe, h in zip(FAULTS, FAULT_PROBES, raw.fault_hist, strict=True):
        if probe in on:
            out.add("thpwatch_fault_seconds", histogram(h), fault=fault)
    outcomes: dict[tuple[str, str], int] = {}
    swapins: dict[str, int] = {}
    for (fault, ret, split), n in raw.fault_counts.items():
        if FAULT_PROBES[fault] not in on:
            continue
        key = (FAULTS[fault], fault_outcome(ret))
        outcomes[key] = outcomes.get(key, 0) + n
        if FAULTS[fault] == "pmd_swapin":
            o = pmd_swapin_outcome(ret, bool(split))
            swapins[o] = swapins.get(o, 0) + n
    for (fault, outcome), n in sorted(outcomes.items()):
        out.add("thpwatch_faults_total", n, fault=fault, outcome=outcome)
    for outcome, n in sorted(swapins.items()):
        out.add("thpwatch_pmd_swapin_total", n, outcome=outcome)


def _emit_splits(raw: RawMaps, on: set[str], names: Names, out: Emitter) -> None:
    if raw.split_hist is None or raw.split_counts is None:
        return
    for level, probe, h in zip(SPLITS, SPLIT_PROBES, raw.split_hist, strict=True):
        if probe in on:
            out.add("thpwatch_split_seconds", histogram(h), level=level)
    for (level, ret), n in sorted(raw.split_counts.items()):
        probe = SPLIT_PROBES[level]
        if probe not in on:
            continue
        result = result_name(ret) if names.split_returns_value.get(probe) else "returned"
        out.add("thpwatch_splits_total", n, level=SPLITS[level], result=result)


def _emit_reserved(raw: RawMaps, on: set[str], out: Emitter) -> None:
    if raw.charge is not None and facts.FN_RESERVED_THP_CHARGE in on:
        for (ret, fld), n in sorted(raw.charge.items()):
            name = (
                "thpwatch_reserved_thp_charge_hpages_total"
                if fld
                else "thpwatch_reserved_thp_charge_total"
            )
            out.add(name, n, result=result_name(ret))
    if raw.uncharge is not None and facts.FN_RESERVED_THP_UNCHARGE in on:
        out.add("thpwatch_reserved_thp_uncharge_hpages_total", raw.uncharge[1])


# -- reading bcc tables -------------------------------------------------------------------------


def _table(objects: Sequence[Any], name: str) -> Any | None:
    for obj in objects:
        try:
            return obj[name.encode()]
        except KeyError:
            continue
    return None


def _percpu_counts(table: Any, key: Any) -> dict[Any, int]:
    return {key(k): int(sum(v)) for k, v in table.items()}


def _percpu_array(table: Any) -> list[int]:
    return [int(sum(table[i])) for i in range(len(table))]


def _percpu_hists(table: Any) -> list[LogHist]:
    hists = []
    for i in range(len(table)):
        per_cpu = table[i]
        slots = tuple(sum(int(h.slots[s]) for h in per_cpu) for s in range(HIST_SLOTS))
        hists.append(LogHist(slots, sum(int(h.sum_ns) for h in per_cpu)))
    return hists


def read_maps(objects: Sequence[Any]) -> RawMaps:
    """Sum every thpwatch map found in the loaded bcc objects over CPUs."""
    raw = RawMaps()
    if (t := _table(objects, "alloc_counts")) is not None:
        raw.alloc = _percpu_counts(t, lambda k: (k.order, k.migratetype, k.reserved_gfp))
    if (t := _table(objects, "madv_counts")) is not None:
        raw.madvise = _percpu_counts(t, lambda k: (k.advice, k.ret, k.field))
    if (t := _table(objects, "madv_procs")) is not None:
        raw.madvise_procs = [
            (k.value, v.comm.decode("utf-8", "replace"), v.calls, v.bytes) for k, v in t.items()
        ]
    if (t := _table(objects, "stall_hist")) is not None:
        raw.stalls = _percpu_hists(t)
    if (t := _table(objects, "collapse_counts")) is not None:
        raw.collapse = _percpu_counts(t, lambda k: k.value)
    if (t := _table(objects, "migrate_counts")) is not None:
        raw.migrate = _percpu_array(t)
    if (t := _table(objects, "fault_hist")) is not None:
        raw.fault_hist = _percpu_hists(t)
    if (t := _table(objects, "fault_counts")) is not None:
        raw.fault_counts = _percpu_counts(t, lambda k: (k.fault, k.ret, k.split_fallback))
    if (t := _table(objects, "split_hist")) is not None:
        raw.split_hist = _percpu_hists(t)
    if (t := _table(objects, "split_counts")) is not None:
        raw.split_counts = _percpu_counts(t, lambda k: (k.level, k.ret))
    if (t := _table(objects, "charge_counts")) is not None:
        raw.charge = _percpu_counts(t, lambda k: (k.ret, k.field))
    if (t := _table(objects, "uncharge_counts")) is not None:
        raw.uncharge = _percpu_array(t)
    return raw
