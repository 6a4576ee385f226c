"""Metrics the BPF probes emit (see decode.py for how each is read from the maps), and the
label sets each of them has from the moment its probe attaches (KNOWN).

Latency histograms use LATENCY_BOUNDS: powers of two of nanoseconds from 2^10 ns (~1 us) to
2^35 ns (~34 s), in seconds; the BPF side keeps log2(ns) slots, which map onto these exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

from thpwatch.kernel import facts
from thpwatch.metric import Metric

LATENCY_BOUNDS = tuple(2**k / 1e9 for k in range(10, 36))

# Label values and the probe behind each (indexes mirror bpf/*.bpf.c).
FAULTS = ("pmd_anon", "pud_anon", "pmd_swapin", "pte_swapin", "any")  # enum thpw_fault
FAULT_PROBES = (
    facts.FN_DO_HUGE_PMD_ANON,
    facts.FN_DO_HUGE_PUD_ANON,
    facts.FN_DO_HUGE_PMD_SWAP,
    facts.FN_DO_SWAP_PAGE,
    facts.FN_HANDLE_MM_FAULT,
)
FAULT_OUTCOMES = ("ok", "major", "fallback", "oom", "sigbus", "retry", "error")
PMD_SWAPIN_OUTCOMES = (  # decode.pmd_swapin_outcome
    "whole_from_device",
    "whole_from_swap_cache",
    "split_fallback",
    "oom",
    "sigbus",
    "retry",
    "error",
)
SPLITS = ("pmd", "pud", "folio")
SPLIT_PROBES = (facts.FN_SPLIT_HUGE_PMD, facts.FN_SPLIT_HUGE_PUD, facts.FN_SPLIT_HUGE_PAGE)
MIGRATION_RESULTS = ("succeeded", "failed", "split")

METRICS = (
    Metric(
        "thpwatch_page_alloc_total",
        "counter",
        "Page allocations of order >= 2 (kmem:mm_page_alloc), by order, migratetype name and "
        "whether the reserved-THP GFP bit was set.",
        ("order", "migratetype", "reserved_gfp"),
    ),
    Metric(
        "thpwatch_madvise_calls_total",
        "counter",
        "madvise() calls with a THP-related advice, by advice and result (ok or errno name).",
        ("advice", "result"),
    ),
    Metric(
        "thpwatch_madvise_bytes_total",
        "counter",
        "Length passed to those madvise() calls, by advice and result.",
        ("advice", "result"),
        "bytes",
    ),
    Metric(
        "thpwatch_madvise_top_process_calls_total",
        "counter",
        "THP-related madvise() calls of the processes making the most (top 10 of a bounded "
        "table of 1024 processes), summed by comm; pid label only with --pid-labels.",
        ("pid", "comm"),
    ),
    Metric(
        "thpwatch_madvise_top_process_bytes_total",
        "counter",
        "Length passed to THP-related madvise() calls by the same top processes.",
        ("pid", "comm"),
        "bytes",
    ),
    Metric(
        "thpwatch_direct_reclaim_seconds",
        "histogram",
        "Direct reclaim stalls (vmscan direct_reclaim_begin to _end).",
        (),
        "seconds",
    ),
    Metric(
        "thpwatch_compaction_seconds",
        "histogram",
        "Compaction runs (compaction begin to end), direct and kcompactd.",
        (),
        "seconds",
    ),
    Metric(
        "thpwatch_khugepaged_collapse_total",
        "counter",
        "Huge page collapses (huge_memory:mm_collapse_huge_page, khugepaged and MADV_COLLAPSE) "
        "by status name from the event's print format.",
        ("status",),
    ),
    Metric(
        "thpwatch_thp_migration_total",
        "counter",
        "THPs migrated (migrate:mm_migrate_pages thp_* fields): succeeded, failed, split.",
        ("result",),
    ),
    Metric(
        "thpwatch_fault_seconds",
        "histogram",
        "Fault handler latency by fault kind (pmd_anon, pud_anon, pmd_swapin, pte_swapin, any); "
        "attempts that returned VM_FAULT_RETRY are not timed; pmd_swapin times whole swap-ins "
        "only.",
        ("fault",),
        "seconds",
    ),
    Metric(
        "thpwatch_faults_total",
        "counter",
        "Fault handler calls by fault kind and outcome from the return value (ok, major, "
        "fallback, oom, sigbus, retry, error).",
        ("fault", "outcome"),
    ),
    Metric(
        "thpwatch_pmd_swapin_total",
        "counter",
        "PMD swap entry faults (do_huge_pmd_swap_page) by outcome: whole_from_device (read "
        "as one 2 MiB folio, = hugepages-2048kB/stats/swpin), whole_from_swap_cache, "
        "split_fallback (512 PTE swap entries, = swpin_fallback), retry (not a swap-in: redone), "
        "oom, sigbus, error.",
        ("outcome",),
    ),
    Metric(
        "thpwatch_split_seconds",
        "histogram",
        "THP split latency by level (pmd, pud, folio).",
        ("level",),
        "seconds",
    ),
    Metric(
        "thpwatch_splits_total",
        "counter",
        "THP splits by level and result: ok or an errno name where the function returns an int, "
        "`returned` where it is void (no failure can be seen).",
        ("level", "result"),
    ),
    Metric(
        "thpwatch_reserved_thp_charge_total",
        "counter",
        "reserved_thp_charge() calls by result (ok; ENOMEM = quota exhausted).",
        ("result",),
    ),
    Metric(
        "thpwatch_reserved_thp_charge_hpages_total",
        "counter",
        "PMD-sized huge pages asked of reserved_thp_charge(), by result.",
        ("result",),
    ),
    Metric(
        "thpwatch_reserved_thp_uncharge_hpages_total",
        "counter",
        "PMD-sized huge pages given back by reserved_thp_uncharge().",
    ),
    Metric(
        "thpwatch_crosscheck_disagreement_ratio",
        "gauge",
        "Disagreement between a BPF count and the kernel's own counter over the last interval: "
        "|bpf - kernel| / kernel for exact checks, (bpf - kernel) / kernel above the bound for "
        "at-most checks, 0/1 for activity checks (see docs/probes.md).",
        ("check",),
        "ratio",
    ),
)


# -- label sets that exist from attach on --------------------------------------------------------

Values = tuple[str, ...] | Callable[[Any], tuple[str, ...]]


@dataclass(frozen=True)
class Known:
    """Label sets of `metric` that exist as soon as `probe` is attached: they read 0 until the
    first event instead of being missing (dashboards say 0, not "No data"; rate() sees the
    first events). A probe that is not attached adds none of them (absent is not zero).

    values: per label, its known values, or a function of the start-up names (decode.Names)
    for values that depend on the kernel (migratetypes, collapse statuses, split results, the
    reserved-THP advice).
    Errno results are not enumerated: only `ok` (and errnos an alert selects) start at 0."""

    metric: str
    probe: str
    values: tuple[tuple[str, Values], ...] = ()

    def label_sets(self, names: Any) -> Iterator[dict[str, str]]:
        labels = [label for label, _ in self.values]
        columns = [v(names) if callable(v) else v for _, v in self.values]
        for combo in product(*columns):
            yield dict(zip(labels, combo, strict=True))


def _split_result(probe: str) -> Callable[[Any], tuple[str, ...]]:
    return lambda names: ("ok",) if names.split_returns_value.get(probe) else ("returned",)


def _advice(names: Any) -> tuple[str, ...]:
    """MADV_RESERVED_THP means something only on a kernel with the series (else EINVAL)."""
    reserved = facts.MADV_NAMES[facts.MADV_RESERVED_THP]
    return tuple(a for a in facts.MADV_NAMES.values() if a != reserved or names.reserved_thp)


KNOWN = (
    Known(
        "thpwatch_page_alloc_total",
        "mm_page_alloc",
        (  # the PMD THP order; other orders appear with their first allocation
            ("order", (str(facts.PMD_ORDER),)),
            ("migratetype", lambda names: tuple(names.migratetypes)),
            ("reserved_gfp", ("no", "yes")),
        ),
    ),
    Known("thpwatch_madvise_calls_total", "madvise", (("advice", _advice), ("result", ("ok",)))),
    Known("thpwatch_madvise_bytes_total", "madvise", (("advice", _advice), ("result", ("ok",)))),
    Known(
        "thpwatch_khugepaged_collapse_total",
        "collapse_huge_page",
        (("status", lambda names: tuple(dict.fromkeys(names.collapse_status.values()))),),
    ),
    Known("thpwatch_thp_migration_total", "migrate_pages", (("result", MIGRATION_RESULTS),)),
    *(
        Known(
            "thpwatch_faults_total",
            probe,
            (("fault", (fault,)), ("outcome", FAULT_OUTCOMES)),
        )
        for fault, probe in zip(FAULTS, FAULT_PROBES, strict=True)
    ),
    Known(
        "thpwatch_pmd_swapin_total", facts.FN_DO_HUGE_PMD_SWAP, (("outcome", PMD_SWAPIN_OUTCOMES),)
    ),
    *(
        Known(
            "thpwatch_splits_total", probe, (("level", (level,)), ("result", _split_result(probe)))
        )
        for level, probe in zip(SPLITS, SPLIT_PROBES, strict=True)
    ),
    *(
        Known(metric, facts.FN_RESERVED_THP_CHARGE, (("result", ("ok", "ENOMEM")),))
        for metric in (
            "thpwatch_reserved_thp_charge_total",
            "thpwatch_reserved_thp_charge_hpages_total",
        )
    ),
    Known("thpwatch_reserved_thp_uncharge_hpages_total", facts.FN_RESERVED_THP_UNCHARGE),
)
