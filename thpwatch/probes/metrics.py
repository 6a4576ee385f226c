"""Metrics the BPF probes emit (see decode.py for how each is read from the maps).

Latency histograms use LATENCY_BOUNDS: powers of two of nanoseconds from 2^10 ns (~1 us) to
2^35 ns (~34 s), in seconds; the BPF side keeps log2(ns) slots, which map onto these exactly.
"""

from __future__ import annotations

from thpwatch.metric import Metric

LATENCY_BOUNDS = tuple(2**k / 1e9 for k in range(10, 36))

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
        "table of 1024 processes).",
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
