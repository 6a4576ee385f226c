"""Group swapin (bpf/swapin.bpf.c): whole-THP swap-in (do_huge_pmd_swap_page, PMD swap series)
and the 4 KiB baseline (do_swap_page). Both fill the fault maps (groups/faults.py); this group
adds the PMD swap-in outcomes and the counts the cross-check compares with the kernel's."""

from __future__ import annotations

from collections.abc import Callable

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.group import Decoding, Known, ProbeGroup, function_probe
from thpwatch.probes.groups.faults import FAULT, FAULT_COUNTS, fault_calls_where, fault_outcome
from thpwatch.probes.maps import RawMaps

PMD_SWAPIN_OUTCOMES = (  # pmd_swapin_outcome
    "whole_from_device",
    "whole_from_swap_cache",
    "split_fallback",
    "oom",
    "sigbus",
    "retry",
    "error",
)
PMD_SWAPINS = Metric(
    "thpwatch_pmd_swapin_total",
    "counter",
    "PMD swap entry faults (do_huge_pmd_swap_page) by outcome: whole_from_device (read "
    "as one 2 MiB folio, = hugepages-2048kB/stats/swpin), whole_from_swap_cache, "
    "split_fallback (512 PTE swap entries, = swpin_fallback), retry (not a swap-in: redone), "
    "oom, sigbus, error.",
    ("outcome",),
)


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


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    counts = FAULT_COUNTS.of(raw)
    if counts is None or facts.FN_DO_HUGE_PMD_SWAP not in d.attached:
        return
    index = FAULT.index("pmd_swapin")
    swapins: dict[str, int] = {}
    for k, n in counts.items():
        if k.fault == index:
            outcome = pmd_swapin_outcome(k.ret, bool(k.split_fallback))
            swapins[outcome] = swapins.get(outcome, 0) + n
    for outcome, n in sorted(swapins.items()):
        out.add(PMD_SWAPINS.name, n, outcome=outcome)


# A whole swap-in read from the device: VM_FAULT_MAJOR without RETRY. On an asynchronous device
# the call starting the read returns MAJOR|RETRY and the BPF side puts MAJOR on the thread's
# retried call (which maps the folio from the swap cache), so each read counts once.
pmd_swapin_device_reads = fault_calls_where(
    "pmd_swapin",
    lambda k: (
        bool(k.ret & facts.VM_FAULT_MAJOR)
        and not k.ret & facts.VM_FAULT_RETRY
        and not k.split_fallback
    ),
)
pmd_swapin_split_fallbacks = fault_calls_where(
    "pmd_swapin", lambda k: bool(k.split_fallback) and not k.ret & facts.VM_FAULT_RETRY
)
# do_swap_page calls that read from the device (VM_FAULT_MAJOR, RETRY included)
pte_swapin_device_reads: Callable[[RawMaps], int | None] = fault_calls_where(
    "pte_swapin", lambda k: bool(k.ret & facts.VM_FAULT_MAJOR)
)

GROUP = ProbeGroup(
    "swapin",
    (
        function_probe(facts.FN_DO_HUGE_PMD_SWAP, "swapin", helpers=(facts.FN_SPLIT_HUGE_PMD,)),
        function_probe(facts.FN_DO_SWAP_PAGE, "swapin"),
    ),
    metrics=(PMD_SWAPINS,),
    known=(
        Known(PMD_SWAPINS.name, facts.FN_DO_HUGE_PMD_SWAP, (("outcome", PMD_SWAPIN_OUTCOMES),)),
    ),
    emit=emit,
)
