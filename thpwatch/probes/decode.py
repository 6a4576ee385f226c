"""BPF map contents -> Samples. Pure functions on plain Python data (RawMaps), so every
conversion is unit-tested without BPF; read_maps() fills RawMaps from map file descriptors with
the bpf() system call (probes/bpfsys.py), without bcc.

Map names, key layouts and index constants mirror bpf/*.bpf.c.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.text import label_text
from thpwatch.probes.bpfsys import BpfMap
from thpwatch.probes.errors import result_name
from thpwatch.probes.metrics import (
    FAULT_PROBES,
    FAULTS,
    KNOWN,
    LATENCY_BOUNDS,
    MIGRATION_RESULTS,
    SPLIT_PROBES,
    SPLITS,
)
from thpwatch.snapshot import Histogram, labels_of

HIST_SLOTS = 63  # THPW_HIST_SLOTS: slot s counts ns values in [2^s, 2^(s+1))
STALLS = ("direct_reclaim", "compaction")  # stall_hist index -> probe
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
    running, below = 0, [0]  # below[k]: observations in slots 0..k-1
    for c in h.slots:
        running += c
        below.append(running)
    cumulative = []
    for bound in bounds:
        limit_ns = round(bound * 1e9)
        # slots s with 2^(s+1) <= limit_ns: s <= log2(limit_ns) - 1
        full = min(max(limit_ns.bit_length() - 1, 0), len(h.slots))
        cumulative.append(below[full])
    return Histogram(tuple(bounds), tuple(cumulative), running, h.sum_ns / 1e9)


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
    reserved_thp: bool = False  # the kernel has the Reserved THP series (its sysfs directory)


def _migratetype(names: Names, index: int) -> str:
    if 0 <= index < len(names.migratetypes):
        return names.migratetypes[index]
    return str(index)


def emit(
    raw: RawMaps, attached: Iterable[str], names: Names, out: Emitter, *, pid_labels: bool = False
) -> None:
    """Add the samples of every attached probe, its known label sets at 0 until their first
    event; a probe not attached adds nothing (absent, not zero). pid_labels: top madvise
    processes by pid (else summed by command name)."""
    on = set(attached)
    first = len(out.samples)
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
        _emit_madvise(raw, out, pid_labels)
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
    _emit_known_zeros(on, names, out, first)


def _emit_known_zeros(on: set[str], names: Names, out: Emitter, first: int) -> None:
    """0 for every known label set (metrics.KNOWN) of an attached probe that the maps did not
    give a value yet."""
    seen = {(s.name, s.labels) for s in out.samples[first:]}
    for known in KNOWN:
        if known.probe not in on:
            continue
        for labels in known.label_sets(names):
            if (known.metric, labels_of(labels)) not in seen:
                out.add(known.metric, 0, labels_of(labels))


def _emit_madvise(raw: RawMaps, out: Emitter, pid_labels: bool) -> None:
    assert raw.madvise is not None
    for (advice, ret, fld), n in sorted(raw.madvise.items()):
        name = "thpwatch_madvise_bytes_total" if fld else "thpwatch_madvise_calls_total"
        out.add(name, n, advice=facts.MADV_NAMES.get(advice, str(advice)), result=result_name(ret))
    procs = raw.madvise_procs or []
    if not pid_labels:  # no pid label unless asked (--pid-labels): summed per command name
        by_comm: dict[str, list[int]] = {}
        for _, comm, calls, nbytes in procs:
            total = by_comm.setdefault(label_text(comm), [0, 0])
            total[0] += calls
            total[1] += nbytes
        procs = [(0, comm, calls, nbytes) for comm, (calls, nbytes) in by_comm.items()]
    top = sorted(procs, key=lambda p: (-p[2], p[0], p[1]))[:TOP_PROCESSES]
    for tgid, comm, calls, nbytes in top:
        labels = {"comm": label_text(comm), **({"pid": str(tgid)} if pid_labels else {})}
        out.add("thpwatch_madvise_top_process_calls_total", calls, **labels)
        out.add("thpwatch_madvise_top_process_bytes_total", nbytes, **labels)


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


# -- reading the maps ---------------------------------------------------------------------------
# Key and value layouts of bpf/*.bpf.c (native byte order, C alignment); per-CPU values are
# summed over CPUs. tests/bpf/test_map_reading.py checks them against bcc's own view.
_HIST_FIELDS = HIST_SLOTS + 1  # struct thpw_hist: u64 slots[], u64 sum_ns
_KEYS = {
    "alloc_counts": struct.Struct("=IiI"),  # order, migratetype, reserved_gfp
    "madv_counts": struct.Struct("=IiI"),  # advice, ret, field
    "collapse_counts": struct.Struct("=i"),
    "fault_counts": struct.Struct("=III"),  # fault, ret (vm_fault_t bits), split_fallback
    "split_counts": struct.Struct("=Ii"),  # level, ret
    "charge_counts": struct.Struct("=iI"),  # ret, field
}
_MADV_PROC = struct.Struct("=QQ16s")  # calls, bytes, comm
_TGID = struct.Struct("=I")


class MapSource(Protocol):
    def map(self, name: str) -> BpfMap | None: ...


def _find(objects: Sequence[MapSource], name: str) -> BpfMap | None:
    for obj in objects:
        m = obj.map(name)
        if m is not None:
            return m
    return None


def _u64s(value: bytes) -> memoryview:
    return memoryview(value).cast("Q")  # native order; per-CPU strides are multiples of 8


def _sum_u64(m: BpfMap, value: bytes) -> int:
    """A per-CPU u64 summed over CPUs (one C-level pass: hosts have hundreds of CPUs)."""
    return sum(_u64s(value)[:: m.value_stride // 8])


def _percpu_counts(m: BpfMap, name: str) -> dict[Any, int]:
    key = _KEYS[name]
    out = {}
    for k, v in m.entries():
        fields = key.unpack(k)
        out[fields if len(fields) > 1 else fields[0]] = _sum_u64(m, v)
    return out


def _array_entries(m: BpfMap) -> list[bytes]:
    """An array's values in index order (every index exists in an array map)."""
    return [v for _, v in sorted(m.entries(), key=lambda e: _TGID.unpack(e[0])[0])]


def _percpu_array(m: BpfMap) -> list[int]:
    return [_sum_u64(m, v) for v in _array_entries(m)]


def _percpu_hists(m: BpfMap) -> list[LogHist]:
    hists = []
    step = m.value_stride // 8
    for v in _array_entries(m):
        words = _u64s(v)
        total = [sum(words[i::step]) for i in range(_HIST_FIELDS)]
        hists.append(LogHist(tuple(total[:HIST_SLOTS]), total[HIST_SLOTS]))
    return hists


def _madvise_procs(m: BpfMap) -> list[tuple[int, str, int, int]]:
    procs = []
    for k, v in m.entries():
        calls, nbytes, comm = _MADV_PROC.unpack(v)
        name = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
        procs.append((_TGID.unpack(k)[0], name, calls, nbytes))
    return procs


def read_maps(objects: Sequence[MapSource]) -> RawMaps:
    """Sum every thpwatch map found in the loaded objects over CPUs."""
    raw = RawMaps()
    if (m := _find(objects, "alloc_counts")) is not None:
        raw.alloc = _percpu_counts(m, "alloc_counts")
    if (m := _find(objects, "madv_counts")) is not None:
        raw.madvise = _percpu_counts(m, "madv_counts")
    if (m := _find(objects, "madv_procs")) is not None:
        raw.madvise_procs = _madvise_procs(m)
    if (m := _find(objects, "stall_hist")) is not None:
        raw.stalls = _percpu_hists(m)
    if (m := _find(objects, "collapse_counts")) is not None:
        raw.collapse = _percpu_counts(m, "collapse_counts")
    if (m := _find(objects, "migrate_counts")) is not None:
        raw.migrate = _percpu_array(m)
    if (m := _find(objects, "fault_hist")) is not None:
        raw.fault_hist = _percpu_hists(m)
    if (m := _find(objects, "fault_counts")) is not None:
        raw.fault_counts = _percpu_counts(m, "fault_counts")
    if (m := _find(objects, "split_hist")) is not None:
        raw.split_hist = _percpu_hists(m)
    if (m := _find(objects, "split_counts")) is not None:
        raw.split_counts = _percpu_counts(m, "split_counts")
    if (m := _find(objects, "charge_counts")) is not None:
        raw.charge = _percpu_counts(m, "charge_counts")
    if (m := _find(objects, "uncharge_counts")) is not None:
        raw.uncharge = _percpu_array(m)
    return raw
