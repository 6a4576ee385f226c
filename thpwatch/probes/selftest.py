"""`thpwatch doctor --selftest`: run a short real workload and show, per event kind, what the
workload did, what the kernel counted and what thpwatch counted.

The kernel's counters are system-wide, so the BPF side is read system-wide too (no process
filter) except for madvise, which has no kernel counter: there the kernel's answer is what the
syscalls returned to the workload, and thpwatch counts this process's calls. On a busy host
other processes' THP activity shows on both sides alike.

Every row compares counts of one unit. "agree" means equal (within 1 % for exact rows, for
reads racing other activity on the host) or, where a row says so, a documented bound:
- PMD splits on a kernel without a split_huge_pmd_locked probe (6.1: inlined) are calls to
  __split_huge_pmd, a superset of the splits: thpwatch >= kernel.
- PTE-level swap reads on a device with readahead (not zram): pages read ahead have no fault of
  their own, so do_swap_page's device reads <= the kernel's PTE-level reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thpwatch import workload
from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.pagetypeinfo import read_pagetypeinfo
from thpwatch.probes.crosscheck import (
    PMD_SIZE,
    PMD_THP_ALLOCS,
    KernelCounts,
    kernel_sum,
    pte_level_swap_reads,
    read_kernel_counts,
    thp_migratetypes,
)
from thpwatch.probes.decode import read_maps
from thpwatch.probes.groups.alloc import allocs_of_order
from thpwatch.probes.groups.faults import fault_calls
from thpwatch.probes.groups.khugepaged import SCAN_SUCCEED, collapses_with_status
from thpwatch.probes.groups.madvise import calls_with_result
from thpwatch.probes.groups.splits import split_calls
from thpwatch.probes.groups.swapin import (
    pmd_swapin_device_reads,
    pmd_swapin_split_fallbacks,
    pte_swapin_device_reads,
)
from thpwatch.probes.loader import ProbeSet
from thpwatch.probes.maps import RawMaps
from thpwatch.snapshot import State

SYSTEM_GROUPS = ("alloc", "khugepaged", "faults", "swapin", "splits")


@dataclass(frozen=True)
class SelftestRow:
    event: str  # e.g. "THP fault 2048kB", "madvise hugepage -> ok"
    workload: int  # what the workload did (faults, calls, pages)
    kernel: int | None  # what the kernel counted; None: no counter for it
    thpwatch: int | None  # what thpwatch counted; None: its probe is not attached (see note)
    agree: bool | None  # None when one side has no number
    note: str = ""


Count = Callable[[RawMaps], int | None]


class _Probes:
    """Two probe sets: system-wide (like the kernel counters) and this process's madvise."""

    def __init__(self) -> None:
        self.system = ProbeSet(SYSTEM_GROUPS)
        self.mine = ProbeSet(("madvise",), pid=os.getpid())
        try:
            self.thp_types = thp_migratetypes(read_pagetypeinfo(Path("/")).migratetypes)
        except (OSError, KernelFileError):
            self.thp_types = None  # every allocation of the order counts

    def __enter__(self) -> _Probes:
        self.system.open()
        self.mine.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.system.close()
        self.mine.close()

    def has_helper(self, probe: str) -> bool:
        """Whether `probe` attached with all its helper functions (no `without` detail)."""
        st = self.system.states.get(probe)
        return st is not None and st.state is State.OK and "without" not in st.detail

    def why_not(self, probe: str) -> str:
        for ps in (self.system, self.mine):
            st = ps.states.get(probe)
            if st is not None and st.state is not State.OK:
                # the first clause: the full reason is in doctor's attach types and probe table
                return f"{probe} {st.state.value}: {st.reason.split(': ', 1)[0]}"
        return ""

    def read(self) -> tuple[RawMaps, RawMaps, KernelCounts]:
        return read_maps(self.system.objects), read_maps(self.mine.objects), read_kernel_counts()


def _delta(count: Count, before: RawMaps, after: RawMaps) -> int | None:
    a, b = count(after), count(before)
    return None if a is None or b is None else a - b


def _kernel_delta(keys: tuple[str, ...], before: KernelCounts, after: KernelCounts) -> int | None:
    a, b = kernel_sum(*keys)(after), kernel_sum(*keys)(before)
    return None if a is None or b is None else a - b


EXACT, AT_MOST, AT_LEAST = "exact", "thpwatch <= kernel", "thpwatch >= kernel"


def compare(kernel: int, ours: int, bound: str) -> tuple[bool, str]:
    """(agree, note) for two counts of the same unit: EXACT agrees within 1 % (reads racing
    other THP activity on the host), the bounds as they say. Nothing else is agreement."""
    if bound == EXACT:
        if ours == kernel:
            return True, ""
        if abs(ours - kernel) <= kernel // 100:
            return True, "equal within 1 %"
        return False, "differ by more than 1 % (other THP activity on the host?)"
    if bound == AT_MOST:
        ok = ours <= kernel
    elif bound == AT_LEAST:
        ok = ours >= kernel
    else:
        raise ValueError(f"unknown self-test bound {bound!r}")
    return ok, f"bound: {bound}" if ok else f"outside the bound {bound}"


def _row(
    probes: _Probes,
    event: str,
    did: int,
    kernel: int | None,
    ours: int | None,
    probe: str,
    bound: str = EXACT,
    note: str = "",
) -> SelftestRow:
    why = probes.why_not(probe)
    if why:
        ours = None
    if kernel is None or ours is None:
        return SelftestRow(event, did, kernel, ours, None, why or "no kernel counter")
    agree, how = compare(kernel, ours, bound)
    return SelftestRow(event, did, kernel, ours, agree, "; ".join(n for n in (how, note) if n))


def run_selftest(with_swap: bool = True) -> list[SelftestRow]:
    """Run every workload once under the probes and compare. Needs root; takes a few seconds.
    with_swap: also swap out and back in (creates zram0 or a swap file, always removed)."""
    rows: list[SelftestRow] = []
    with _Probes() as probes:
        for size in workload.enabled_thp_sizes():
            rows += _fault_rows(probes, size)
        rows += _madvise_rows(probes)
        rows += _collapse_and_split_rows(probes)
        if with_swap:
            rows += _swap_rows(probes)
    return rows


def _fault_rows(probes: _Probes, size: int) -> list[SelftestRow]:
    """THP faults of one size: the page allocator's count of that order, and where there is one
    the fault handler's count. PUD THPs bypass the buddy allocator (no mm_page_alloc event)."""
    order = (size // facts.PAGE_SIZE).bit_length() - 1
    label = f"{size // 1024}kB"
    sys0, _, k0 = probes.read()
    did = workload.thp_faults(size, workload.thp_count(size, 32))
    sys1, _, k1 = probes.read()
    alloc, fallback = f"mthp:{label}:anon_fault_alloc", f"mthp:{label}:anon_fault_fallback"
    rows = []
    if order <= facts.MAX_PAGE_ORDER:
        rows.append(
            _row(
                probes,
                f"THP fault {label} (allocations of order {order})",
                did.counts["thps"],
                _kernel_delta(PMD_THP_ALLOCS if order == facts.PMD_ORDER else (alloc,), k0, k1),
                _delta(allocs_of_order(order, probes.thp_types), sys0, sys1),
                "mm_page_alloc",
            )
        )
    handler = {facts.PMD_ORDER: ("pmd_anon", facts.FN_DO_HUGE_PMD_ANON)}
    handler[facts.PUD_ORDER] = ("pud_anon", facts.FN_DO_HUGE_PUD_ANON)
    if order in handler:
        fault, probe = handler[order]
        rows.append(
            _row(
                probes,
                f"{fault} fault handler calls ({label})",
                did.counts["thps"],
                _kernel_delta((alloc, fallback), k0, k1),
                _delta(fault_calls(fault), sys0, sys1),
                probe,
            )
        )
    return rows


def _madvise_rows(probes: _Probes) -> list[SelftestRow]:
    _, mine0, _ = probes.read()
    did = workload.madvise_storm(rounds=8)
    _, mine1, _ = probes.read()
    rows = []
    names = {v: k for k, v in facts.MADV_NAMES.items()}
    for (advice, result), calls in sorted(did.madvise_calls.items()):
        rows.append(
            _row(
                probes,
                f"madvise {advice} -> {result}",
                calls,
                calls,  # the kernel's answer: what the syscalls returned
                _delta(calls_with_result(names[advice], result), mine0, mine1),
                "madvise",
            )
        )
    return rows


def _collapse_and_split_rows(probes: _Probes) -> list[SelftestRow]:
    sys0, _, k0 = probes.read()
    did = workload.collapse(count=2)
    sys1, _, k1 = probes.read()
    rows = [
        _row(
            probes,
            "MADV_COLLAPSE collapses",
            did.counts["collapsed_ranges"],
            _kernel_delta(("vmstat:thp_collapse_alloc",), k0, k1),
            _delta(collapses_with_status(SCAN_SUCCEED), sys0, sys1),
            "collapse_huge_page",
        )
    ]
    did = workload.split_thps(count=8)
    sys2, _, k2 = probes.read()
    # Without split_huge_pmd_locked (6.1) the probe counts __split_huge_pmd calls, a superset.
    pmd_bound = EXACT if probes.has_helper(facts.FN_SPLIT_HUGE_PMD) else AT_LEAST
    for event, level, keys, probe, done, bound in (
        (
            "PMD splits",
            "pmd",
            (f"vmstat:{facts.VMSTAT_THP_SPLIT_PMD}",),
            facts.FN_SPLIT_HUGE_PMD,
            did.counts["pmd_splits"],
            pmd_bound,
        ),
        (
            "folio splits",
            "folio",
            ("vmstat:thp_split_page", "vmstat:thp_split_page_failed"),
            facts.FN_SPLIT_HUGE_PAGE,
            did.counts["folio_splits"],
            EXACT,
        ),
    ):
        rows.append(
            _row(
                probes,
                event,
                done,
                _kernel_delta(keys, k1, k2),
                _delta(split_calls(level), sys1, sys2),
                probe,
                bound,
            )
        )
    return rows


def _swap_rows(probes: _Probes) -> list[SelftestRow]:
    try:
        with workload.temporary_swap() as device:
            sys0, _, k0 = probes.read()
            did = workload.pageout_retouch(thps=16)
            sys1, _, k1 = probes.read()
    except OSError as e:
        return [SelftestRow("swap-in", 0, None, None, None, f"no swap could be set up: {e}")]
    thps = did.counts["pages_written"] // (workload.PMD_BYTES // facts.PAGE_SIZE)
    rows = [
        SelftestRow(
            f"THP swap-out (via {device})",
            thps,
            _kernel_delta(("vmstat:thp_swpout",), k0, k1),
            None,
            None,
            "no probe: kernel counter only",
        )
    ]
    kept = _kernel_delta(("vmstat:thp_swpout_pmd",), k0, k1)
    if kept is not None:  # the PMD swap series
        rows.append(
            SelftestRow(
                "THP swap-out kept huge (PMD swap entries)",
                thps,
                kept,
                None,
                None,
                "no probe: kernel counter only",
            )
        )
    pmd = f"mthp:{PMD_SIZE}:"
    if facts.FN_DO_HUGE_PMD_SWAP in probes.system.states:
        rows += [
            _row(
                probes,
                "whole-THP swap-ins read from swap (THPs)",
                thps,
                _kernel_delta((pmd + "swpin",), k0, k1),
                _delta(pmd_swapin_device_reads, sys0, sys1),
                facts.FN_DO_HUGE_PMD_SWAP,
            ),
            _row(
                probes,
                "PMD swap-in split fallbacks (THPs)",
                0,
                _kernel_delta((pmd + "swpin_fallback",), k0, k1),
                _delta(pmd_swapin_split_fallbacks, sys0, sys1),
                facts.FN_DO_HUGE_PMD_SWAP,
            ),
        ]
    a, b = pte_level_swap_reads(k1), pte_level_swap_reads(k0)
    # zram is synchronous: one read per faulting page, no readahead
    synchronous = os.path.basename(device).startswith("zram")
    rows.append(
        _row(
            probes,
            "PTE-level swap reads (pswpin less large-folio reads)",
            did.counts["pages_read"],
            None if a is None or b is None else a - b,
            _delta(pte_swapin_device_reads, sys0, sys1),
            facts.FN_DO_SWAP_PAGE,
            EXACT if synchronous else AT_MOST,
            "workload: pages read back, each a fault or a hit on a THP swapped in whole",
        )
    )
    return rows
