"""BPF counts against the kernel's own counters over the same interval.

Each Check pairs a probe's count with a kernel counter of the same unit. Its kind says how they
compare: EXACT checks report |bpf - kernel| / kernel (the order-9 allocation count must match the
PMD THP allocations the kernel counts, anon_fault_alloc of the PMD size on a quiet host, within
1 %); AT_MOST checks are a bound, bpf <= kernel, and report (bpf - kernel) / kernel above it;
ACTIVITY checks (where the probe counts calls that are a superset of the kernel's events, 6.1's
__split_huge_pmd) report 0 when both sides saw activity or both saw none, 1 when only one did.

Swap-in on a kernel with PMD swap entries: one whole-THP read from the device counts 512 in
pswpin, so pswpin is not a count of do_swap_page faults. The checks compare reads with reads:
do_huge_pmd_swap_page's whole swap-ins read from the device (VM_FAULT_MAJOR without RETRY; see
bpf/swapin.bpf.c for asynchronous devices) = hugepages-2048kB/stats/swpin; its split fallbacks =
swpin_fallback; do_swap_page calls that read the device <= the PTE-level reads left in pswpin
once every large folio read (per-size swpin x its pages) is taken out, each mTHP read counting
once (equal on a synchronous device such as zram; readahead and swapoff read pages that no fault
of their own asked for). Swapoff's unuse_pmd_entry reads PMD folios outside any fault: the PMD
checks are exact for intervals without a swapoff. A function probe that is attached but
counted nothing while its kernel counter moved is *silent* (inlined callers, compiler clones):
reported on the probe's status. Only meaningful without a process filter (the kernel counters
are system-wide).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.mthp import MthpReading, read_mthp
from thpwatch.kernel.text import KeyValues
from thpwatch.kernel.vmstat import read_vmstat
from thpwatch.probes.groups.alloc import allocs_of_order
from thpwatch.probes.groups.faults import fault_calls
from thpwatch.probes.groups.splits import split_calls
from thpwatch.probes.groups.swapin import (
    pmd_swapin_device_reads,
    pmd_swapin_split_fallbacks,
    pte_swapin_device_reads,
)
from thpwatch.probes.maps import RawMaps

PMD_SIZE = facts.PMD_THP_SIZE
PUD_SIZE = f"{(facts.PAGE_SIZE << facts.PUD_ORDER) // 1024}kB"

KernelCounts = dict[str, int]  # "vmstat:<name>" and "mthp:<size>:<stat>"
# Every PMD THP allocation the kernel counts: anonymous faults, collapses (khugepaged,
# MADV_COLLAPSE), file/shmem THPs. On a quiet host it is the faults alone.
PMD_THP_ALLOCS = (
    f"mthp:{PMD_SIZE}:anon_fault_alloc",
    "vmstat:thp_collapse_alloc",
    "vmstat:thp_file_alloc",
)


def read_kernel_counts(root: Path = Path("/")) -> KernelCounts:
    return kernel_counts(read_vmstat(root), read_mthp(root))


def kernel_counts(vmstat: KeyValues, mthp: MthpReading) -> KernelCounts:
    counts: KernelCounts = {}
    for name, value in vmstat.values:
        counts[f"vmstat:{name}"] = value
    for size in mthp.sizes:
        for stat, value in size.stats:
            counts[f"mthp:{size.size}:{stat}"] = value
    return counts


def kernel_sum(*keys: str) -> Callable[[KernelCounts], int | None]:
    def total(k: KernelCounts) -> int | None:
        values = [k[key] for key in keys if key in k]
        return sum(values) if values else None

    return total


def kernel_first(
    *counts: Callable[[KernelCounts], int | None],
) -> Callable[[KernelCounts], int | None]:
    """The first of `counts` this kernel has (per-size stats exist since 6.8; vmstat before)."""

    def first(k: KernelCounts) -> int | None:
        return next((v for v in (c(k) for c in counts) if v is not None), None)

    return first


def thp_migratetypes(names: Sequence[str]) -> frozenset[int] | None:
    """Indexes of the migratetypes THPs are allocated from (pagetypeinfo column order); None
    when the names are unknown (then every allocation of the order counts)."""
    wanted = (facts.MIGRATETYPE_MOVABLE, facts.MIGRATETYPE_RESERVED_THP)
    found = frozenset(i for i, name in enumerate(names) if name in wanted)
    return found or None


def pte_level_swap_reads(k: KernelCounts) -> int | None:
    """Reads at PTE level: pswpin less the pages of every large folio read (per-size `swpin`),
    each mTHP read counted once. None without pswpin; without per-size stats, pswpin itself."""
    pswpin = k.get("vmstat:pswpin")
    if pswpin is None:
        return None
    reads = pswpin
    for key, n in k.items():
        parts = key.split(":")
        if parts[0] == "mthp" and parts[2:] == ["swpin"] and parts[1].endswith("kB"):
            pages = int(parts[1][:-2]) * 1024 // facts.PAGE_SIZE
            reads -= n * pages if parts[1] == PMD_SIZE else n * (pages - 1)
    return reads


EXACT, AT_MOST, ACTIVITY = "exact", "at_most", "activity"


@dataclass(frozen=True)
class Check:
    name: str
    probe: str
    kernel_counter: str  # for messages
    kernel: Callable[[KernelCounts], int | None]
    bpf: Callable[[RawMaps], int | None]
    kind: str  # EXACT | AT_MOST | ACTIVITY


def _fault_check(
    name: str, probe: str, size: str, fault: str, vmstat: tuple[str, ...] = ()
) -> Check:
    """A THP fault handler's completed calls against its size's alloc + fallback counts, or
    the `vmstat` counters of that size on kernels without per-size stats (6.1)."""
    stats = ("anon_fault_alloc", "anon_fault_fallback")
    counter = f"hugepages-{size}/stats/{' + '.join(stats)}"
    if vmstat:
        counter += f" (else vmstat {' + '.join(vmstat)})"
    return Check(
        name,
        probe,
        counter,
        kernel_first(
            kernel_sum(*(f"mthp:{size}:{stat}" for stat in stats)),
            kernel_sum(*(f"vmstat:{v}" for v in vmstat)),
        ),
        fault_calls(fault),
        ACTIVITY,
    )


def checks(thp_types: frozenset[int] | None = None) -> tuple[Check, ...]:
    """The checks; thp_types: migratetype indexes THPs come from (see thp_migratetypes)."""
    return (
        Check(
            "pmd_alloc",
            "mm_page_alloc",
            f"hugepages-{PMD_SIZE}/stats/anon_fault_alloc + thp_collapse_alloc + thp_file_alloc",
            kernel_sum(*PMD_THP_ALLOCS),
            allocs_of_order(facts.PMD_ORDER, thp_types),
            EXACT,
        ),
        _fault_check(
            "pmd_fault",
            facts.FN_DO_HUGE_PMD_ANON,
            PMD_SIZE,
            "pmd_anon",
            (facts.VMSTAT_THP_FAULT_ALLOC, facts.VMSTAT_THP_FAULT_FALLBACK),
        ),
        _fault_check("pud_fault", facts.FN_DO_HUGE_PUD_ANON, PUD_SIZE, "pud_anon"),
        Check(
            "pmd_swapin",
            facts.FN_DO_HUGE_PMD_SWAP,
            f"hugepages-{PMD_SIZE}/stats/swpin",
            kernel_sum(f"mthp:{PMD_SIZE}:swpin"),
            pmd_swapin_device_reads,
            EXACT,
        ),
        Check(
            "pmd_swapin_fallback",
            facts.FN_DO_HUGE_PMD_SWAP,
            f"hugepages-{PMD_SIZE}/stats/swpin_fallback",
            kernel_sum(f"mthp:{PMD_SIZE}:swpin_fallback"),
            pmd_swapin_split_fallbacks,
            EXACT,
        ),
        Check(
            "pte_swapin",
            facts.FN_DO_SWAP_PAGE,
            "vmstat pswpin less large-folio reads (per-size swpin)",
            pte_level_swap_reads,
            pte_swapin_device_reads,
            AT_MOST,
        ),
        Check(
            "split_pmd",
            facts.FN_SPLIT_HUGE_PMD,
            f"vmstat {facts.VMSTAT_THP_SPLIT_PMD}",
            kernel_sum(f"vmstat:{facts.VMSTAT_THP_SPLIT_PMD}"),
            split_calls("pmd"),
            ACTIVITY,
        ),
        Check(
            "split_pud",
            facts.FN_SPLIT_HUGE_PUD,
            f"vmstat {facts.VMSTAT_THP_SPLIT_PUD}",
            kernel_sum(f"vmstat:{facts.VMSTAT_THP_SPLIT_PUD}"),
            split_calls("pud"),
            ACTIVITY,
        ),
        Check(
            "split_folio",
            facts.FN_SPLIT_HUGE_PAGE,
            "vmstat thp_split_page + thp_split_page_failed",
            kernel_sum("vmstat:thp_split_page", "vmstat:thp_split_page_failed"),
            split_calls("folio"),
            ACTIVITY,
        ),
    )


CHECKS = checks()


@dataclass(frozen=True)
class Outcome:
    check: str
    probe: str
    kernel_delta: int
    bpf_delta: int
    disagreement: float
    silent: str  # "" or why the probe is silent


def disagreement(kernel_delta: int, bpf_delta: int, kind: str) -> float:
    if kind == EXACT:
        return abs(bpf_delta - kernel_delta) / max(kernel_delta, 1)
    if kind == AT_MOST:
        return max(0, bpf_delta - kernel_delta) / max(kernel_delta, 1)
    if kind == ACTIVITY:
        return 0.0 if (kernel_delta > 0) == (bpf_delta > 0) else 1.0
    raise ValueError(f"unknown cross-check kind {kind!r}")


class CrossCheck:
    """Keeps the previous readings; each compare() covers the interval since the last one."""

    def __init__(self, checks: Iterable[Check] = CHECKS) -> None:
        self.checks = tuple(checks)
        self._last: dict[str, tuple[int, int]] = {}

    def compare(self, kernel: KernelCounts, raw: RawMaps, attached: set[str]) -> list[Outcome]:
        outcomes = []
        for c in self.checks:
            k, b = c.kernel(kernel), c.bpf(raw)
            if c.probe not in attached or k is None or b is None:
                self._last.pop(c.name, None)
                continue
            last = self._last.get(c.name)
            self._last[c.name] = (k, b)
            if last is None:
                continue  # first reading: no interval yet
            dk, db = k - last[0], b - last[1]
            silent = ""
            if dk > 0 and db == 0:
                silent = (
                    f"silent: attached but counted 0 while {c.kernel_counter} rose by {dk} "
                    "(inlined or cloned call sites?)"
                )
            outcomes.append(Outcome(c.name, c.probe, dk, db, disagreement(dk, db, c.kind), silent))
        return outcomes
