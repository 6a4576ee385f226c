"""Groups faults and faults_any (bpf/faults.bpf.c): the THP fault handlers, and handle_mm_fault
(every fault: opt-in). Also the fault maps (bpf/thpwatch.h) that swap-in's handlers
(groups/swapin.py) fill too: latency per fault kind, calls per kind x return value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.group import CEnum, Decoding, Known, ProbeGroup, function_probe
from thpwatch.probes.histogram import add_histograms
from thpwatch.probes.maps import Counts, HistArray, RawMaps

FAULT = CEnum("FAULT", ("pmd_anon", "pud_anon", "pmd_swapin", "pte_swapin", "any"))
FAULT_PROBES = (  # the probe behind each FAULT
    facts.FN_DO_HUGE_PMD_ANON,
    facts.FN_DO_HUGE_PUD_ANON,
    facts.FN_DO_HUGE_PMD_SWAP,
    facts.FN_DO_SWAP_PAGE,
    facts.FN_HANDLE_MM_FAULT,
)
FAULT_OUTCOMES = ("ok", "major", "fallback", "oom", "sigbus", "retry", "error")
_OTHER_FAULT_ERRORS = (
    facts.VM_FAULT_SIGSEGV | facts.VM_FAULT_HWPOISON | facts.VM_FAULT_HWPOISON_LARGE
)


class FaultKey(NamedTuple):  # struct thpw_fault_key
    fault: int  # FAULT index
    ret: int  # the handler's vm_fault_t bits
    split_fallback: int  # pmd_swapin only: __split_huge_pmd ran inside the call


FAULT_HIST = HistArray("fault_hist")
FAULT_COUNTS = Counts("fault_counts", FaultKey, "=III")

FAULT_SECONDS = Metric(
    "thpwatch_fault_seconds",
    "histogram",
    "Fault handler latency by fault kind (pmd_anon, pud_anon, pmd_swapin, pte_swapin, any); "
    "attempts that returned VM_FAULT_RETRY are not timed; pmd_swapin times whole swap-ins "
    "only.",
    ("fault",),
    "seconds",
)
FAULTS_TOTAL = Metric(
    "thpwatch_faults_total",
    "counter",
    "Fault handler calls by fault kind and outcome from the return value (ok, major, "
    "fallback, oom, sigbus, retry, error).",
    ("fault", "outcome"),
)


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


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    hists, counts = FAULT_HIST.of(raw), FAULT_COUNTS.of(raw)
    if hists is None or counts is None:
        return
    add_histograms(out, FAULT_SECONDS.name, "fault", FAULT.members, FAULT_PROBES, hists, d.attached)
    outcomes: dict[tuple[str, str], int] = {}
    for k, n in counts.items():
        if FAULT_PROBES[k.fault] in d.attached:
            key = (FAULT.members[k.fault], fault_outcome(k.ret))
            outcomes[key] = outcomes.get(key, 0) + n
    for (fault, outcome), n in sorted(outcomes.items()):
        out.add(FAULTS_TOTAL.name, n, fault=fault, outcome=outcome)


def fault_calls_where(
    fault: str, wanted: Callable[[FaultKey], bool]
) -> Callable[[RawMaps], int | None]:
    """Calls of the `fault` kind's handler whose key satisfies `wanted`."""
    index = FAULT.index(fault)

    def total(raw: RawMaps) -> int | None:
        counts = FAULT_COUNTS.of(raw)
        if counts is None:
            return None
        return sum(n for k, n in counts.items() if k.fault == index and wanted(k))

    return total


def fault_calls(fault: str) -> Callable[[RawMaps], int | None]:
    """Completed calls (not VM_FAULT_RETRY) of the `fault` kind's handler."""
    return fault_calls_where(fault, lambda k: not k.ret & facts.VM_FAULT_RETRY)


GROUP = ProbeGroup(
    "faults",
    (
        function_probe(facts.FN_DO_HUGE_PMD_ANON, "faults"),
        function_probe(facts.FN_DO_HUGE_PUD_ANON, "faults"),
    ),
    maps=(FAULT_HIST, FAULT_COUNTS),
    metrics=(FAULT_SECONDS, FAULTS_TOTAL),
    known=tuple(
        Known(FAULTS_TOTAL.name, probe, (("fault", (fault,)), ("outcome", FAULT_OUTCOMES)))
        for fault, probe in zip(FAULT.members, FAULT_PROBES, strict=True)
    ),
    enums=(FAULT,),
    constants={
        f"THPW_{name}": f"{getattr(facts, name):#x}"
        for name in ("VM_FAULT_RETRY", "VM_FAULT_MAJOR", "VM_FAULT_NOT_MAPPED")
    },
    emit=emit,
)
# handle_mm_fault fires on every page fault: only on request
ANY_GROUP = ProbeGroup(
    "faults_any",
    (function_probe(facts.FN_HANDLE_MM_FAULT, "faults_any"),),
    file=GROUP.bpf_file,
    opt_in=True,
)
