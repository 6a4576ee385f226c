"""Host dashboard: one thpwatch instance in depth."""

from __future__ import annotations

from dashboards.spec import (
    FUNCTION_PROBES,
    KERNEL,
    PMD_SWAP,
    PUD_THP,
    RESERVED_THP,
    STATE_TABLE,
    TRACEPOINT_PROBES,
    Dashboard,
    Panel,
    Query,
    Row,
    Variable,
    needs,
)

HOST = 'job=~"$job", instance=~"$instance"'
SIZED = HOST + ', size=~"$size"'
WINDOW = "$__rate_interval"
FAULT_KINDS = "pmd_anon|pud_anon|pmd_swapin|pte_swapin"
SPLIT_DONE = "ok|returned"  # split results that are not failures ("returned": void function)
# The checks behind the two pool-consistency alerts (thpwatch/sources/checks.py).
POOL_CHECKS = "reserve_pageblocks_match_pool|quota_backed_by_free_blocks"


def rate(metric: str, matchers: str = HOST, by: str = "") -> str:
    """sum [by (labels)] of the per-second rate of a counter over Grafana's rate window."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}{{{matchers}}}[{WINDOW}]))"


def quantile(q: float, histogram: str, matchers: str, by: str) -> str:
    return (
        f"histogram_quantile({q}, sum by (le, {by}) "
        f"(rate({histogram}_bucket{{{matchers}}}[{WINDOW}])))"
    )


def buckets(histogram: str, matchers: str) -> str:
    return f"sum by (le) (rate({histogram}_bucket{{{matchers}}}[{WINDOW}]))"


RESERVED = needs(KERNEL, RESERVED_THP)
RESERVED_MADVISE = needs(RESERVED_THP, TRACEPOINT_PROBES)
RESERVED_FUNCTIONS = needs(RESERVED_THP, FUNCTION_PROBES)
FUNCTIONS = needs(FUNCTION_PROBES)
TRACEPOINTS = needs(TRACEPOINT_PROBES)

reserved_pool = Row(
    "Reserved THP pool",
    (
        Panel(
            "Pool now (PMD huge pages)",
            "stat",
            (
                Query(
                    f"sum(thpwatch_reserved_thp_pool_hpages{{{HOST}}})", "capacity", RESERVED, True
                ),
                Query(
                    f"sum(thpwatch_reserved_thp_used_hpages{{{HOST}}})",
                    "used (quota)",
                    RESERVED,
                    True,
                ),
                Query(f"sum(thpwatch_reserved_thp_free_hpages{{{HOST}}})", "free", RESERVED, True),
                Query(
                    f"sum(thpwatch_reserved_thp_resident_hpages{{{HOST}}})",
                    "resident",
                    RESERVED,
                    True,
                ),
                Query(
                    f"sum(thpwatch_reserved_thp_requested_hpages{{{HOST}}})",
                    "requested at boot",
                    RESERVED,
                    True,
                ),
                Query(
                    f"sum(thpwatch_reserved_thp_boot_shortfall_hpages{{{HOST}}})",
                    "boot shortfall",
                    RESERVED,
                    True,
                ),
            ),
            "Reserved THP pool in PMD-sized huge pages (/sys/kernel/mm/reserved_thp). 'used' is "
            "the madvise(MADV_RESERVED_THP) quota charged, not residency; 'resident' counts "
            "ReserveTHP pageblocks in use (/proc/pagetypeinfo); 'boot shortfall' = requested - "
            "reserved.",
            width=12,
            height=5,
        ),
        Panel(
            "Pool utilisation",
            "timeseries",
            (
                Query(
                    f"thpwatch_reserved_thp_used_hpages{{{HOST}}}"
                    f" / thpwatch_reserved_thp_pool_hpages{{{HOST}}}",
                    "{{instance}}",
                    RESERVED,
                ),
            ),
            "Share of the pool promised to madvise(MADV_RESERVED_THP) ranges. At 100 % the next "
            "madvise fails with EAGAIN and fork/mremap growth with ENOMEM.",
            unit="percentunit",
            width=12,
            height=5,
            max=1,
            thresholds=((0.8, "orange"), (0.95, "red")),
        ),
        Panel(
            "Pool over time",
            "timeseries",
            (
                Query(f"thpwatch_reserved_thp_pool_bytes{{{HOST}}}", "capacity", RESERVED),
                Query(f"thpwatch_reserved_thp_used_bytes{{{HOST}}}", "used (quota)", RESERVED),
                Query(f"thpwatch_reserved_thp_free_bytes{{{HOST}}}", "free", RESERVED),
            ),
            "Pool capacity, charged quota and free quota in bytes.",
            unit="bytes",
        ),
        Panel(
            "madvise(MADV_RESERVED_THP) results",
            "timeseries",
            (
                Query(
                    rate(
                        "thpwatch_madvise_calls_total", HOST + ', advice="reserved_thp"', "result"
                    ),
                    "{{result}}",
                    RESERVED_MADVISE,
                ),
            ),
            "madvise(26) calls per second by result. EAGAIN: over quota (the pool cannot cover the "
            "range); EINVAL: range not PMD-aligned, not private anonymous, or a special VMA.",
            unit="ops",
        ),
        Panel(
            "Quota charges and reserved-THP OOM faults",
            "timeseries",
            (
                Query(
                    rate("thpwatch_reserved_thp_charge_total", HOST, "result"),
                    "charge {{result}}",
                    RESERVED_FUNCTIONS,
                ),
                Query(
                    rate("thpwatch_faults_total", HOST + ', outcome="oom"', "fault"),
                    "OOM fault {{fault}}",
                    RESERVED_FUNCTIONS,
                ),
                Query(
                    rate("thpwatch_kmsg_oom_leaked_lines_total"),
                    "'VM_FAULT_OOM leaked' kernel log lines",
                ),
            ),
            "reserved_thp_charge results (ENOMEM = quota exhausted, also for fork and mremap) and "
            "faults in reserved VMAs that found the pool empty (VM_FAULT_OOM: the task refaults "
            "until it is killed).",
            unit="ops",
        ),
        Panel(
            "Pool consistency",
            "timeseries",
            (
                Query(
                    f"max by (check) (thpwatch_check_violation{{{HOST}}})",
                    "violation: {{check}}",
                    RESERVED,
                ),
                Query(
                    f'sum by (check) (thpwatch_check_observed{{{HOST}, check=~"{POOL_CHECKS}"}})',
                    "observed: {{check}}",
                    RESERVED,
                ),
                Query(
                    f'sum by (check) (thpwatch_check_limit{{{HOST}, check=~"{POOL_CHECKS}"}})',
                    "limit: {{check}}",
                    RESERVED,
                ),
            ),
            "A violation is 1 while the kernel's own numbers disagree. Observed vs limit: "
            "ReserveTHP pageblocks vs the pool in pageblocks (more = an ordinary pageblock was "
            "converted), and the quota's free_hpages vs huge pages free on the ReserveTHP free "
            "lists (more = reserved faults will OOM).",
        ),
        Panel(
            "ReserveTHP pageblocks per node and zone",
            "timeseries",
            (
                Query(
                    "sum by (node, zone) "
                    f'(thpwatch_pageblocks{{{HOST}, migratetype="ReserveTHP"}})',
                    "node {{node}} {{zone}}",
                    RESERVED,
                ),
            ),
            "Where the pool lives (/proc/pagetypeinfo): the per-node view reviewers asked for.",
            width=24,
            height=6,
        ),
    ),
)

per_size = Row(
    "THP by size",
    (
        Panel(
            "Anonymous THP faults",
            "timeseries",
            (
                Query(
                    rate("thpwatch_mthp_anon_fault_alloc_total", SIZED, "size"), "{{size}} alloc"
                ),
                Query(
                    rate("thpwatch_mthp_anon_fault_fallback_total", SIZED, "size"),
                    "{{size}} fallback",
                ),
            ),
            "THPs allocated at fault time per size, and faults that fell back to a smaller size "
            "(hugepages-<size>/stats/anon_fault_alloc, anon_fault_fallback).",
            unit="ops",
        ),
        Panel(
            "Fault fallback ratio",
            "timeseries",
            (
                Query(
                    f"{rate('thpwatch_mthp_anon_fault_fallback_total', SIZED, 'size')} / ("
                    f"{rate('thpwatch_mthp_anon_fault_alloc_total', SIZED, 'size')} + "
                    f"{rate('thpwatch_mthp_anon_fault_fallback_total', SIZED, 'size')})",
                    "{{size}}",
                ),
            ),
            "fallback / (alloc + fallback) per size, 1 GiB included where the kernel has it. Gaps "
            "mean no faults of that size in the window.",
            unit="percentunit",
            max=1,
        ),
        Panel(
            "THPs mapped",
            "timeseries",
            (Query(f"sum by (size) (thpwatch_mthp_nr_anon{{{SIZED}}})", "{{size}}"),),
            "Anonymous THPs of each size currently allocated (stats/nr_anon).",
        ),
        Panel(
            "Splits",
            "timeseries",
            (
                Query(rate("thpwatch_mthp_split_total", SIZED, "size"), "{{size}} split"),
                Query(rate("thpwatch_mthp_split_failed_total", SIZED, "size"), "{{size}} failed"),
            ),
            "THP splits per size and splits that failed (stats/split, split_failed).",
            unit="ops",
        ),
        Panel(
            "Swap out and in",
            "timeseries",
            (
                Query(rate("thpwatch_mthp_swpout_total", SIZED, "size"), "{{size}} swpout"),
                Query(
                    rate("thpwatch_mthp_swpout_fallback_total", SIZED, "size"),
                    "{{size}} swpout fallback",
                ),
                Query(rate("thpwatch_mthp_swpin_total", SIZED, "size"), "{{size}} swpin"),
                Query(
                    rate("thpwatch_mthp_swpin_fallback_total", SIZED, "size"),
                    "{{size}} swpin fallback",
                ),
            ),
            "Whole-THP swap-out/in per size and the fallbacks that split the THP first.",
            unit="ops",
        ),
        Panel(
            "THP swap-out: kept huge vs split",
            "timeseries",
            (
                Query(
                    rate("thpwatch_vmstat_thp_swpout_pmd_total"),
                    "kept huge (PMD swap entry)",
                    needs(KERNEL, PMD_SWAP),
                ),
                Query(rate("thpwatch_vmstat_thp_swpout_total"), "written whole"),
                Query(rate("thpwatch_vmstat_thp_swpout_fallback_total"), "split before swap-out"),
            ),
            "PMD THPs swapped out per second: kept huge as one PMD swap entry (thp_swpout_pmd, "
            "PMD swap series: no PTE table, whole swap-in later), written whole (thp_swpout, "
            "either way), split before swap-out (thp_swpout_fallback: no PMD-order swap space, "
            "e.g. a rotational device or a swapfile).",
            unit="ops",
        ),
        Panel(
            "1 GiB (PUD) THP",
            "timeseries",
            (
                Query(
                    rate("thpwatch_mthp_anon_fault_alloc_total", HOST + ', size="1048576kB"'),
                    "alloc",
                    needs(KERNEL, PUD_THP),
                ),
                Query(
                    rate("thpwatch_mthp_anon_fault_fallback_total", HOST + ', size="1048576kB"'),
                    "fallback",
                    needs(KERNEL, PUD_THP),
                ),
                Query(rate("thpwatch_vmstat_thp_split_pud_total"), "PUD splits (vmstat)"),
            ),
            "PUD THP faults and splits. A PUD THP splits straight to 262,144 PTEs on COW, fork, "
            "partial munmap, mprotect, reclaim and migration.",
            unit="ops",
        ),
        Panel(
            "Enabled modes",
            "table",
            (
                Query(
                    f"thpwatch_mthp_enabled{{{SIZED}}} == 1",
                    instant=True,
                ),
            ),
            "The current hugepages-<size>/enabled mode of each size "
            "(always/inherit/madvise/never).",
            width=24,
            height=6,
            hidden_columns=STATE_TABLE,
        ),
    ),
)

latency = Row(
    "Fault latency",
    (
        Panel(
            "PMD (2 MiB) THP fault latency",
            "heatmap",
            (
                Query(
                    buckets("thpwatch_fault_seconds", HOST + ', fault="pmd_anon"'),
                    needs=FUNCTIONS,
                    heatmap=True,
                ),
            ),
            "do_huge_pmd_anonymous_page entry to return, all outcomes.",
            unit="s",
        ),
        Panel(
            "PUD (1 GiB) THP fault latency",
            "heatmap",
            (
                Query(
                    buckets("thpwatch_fault_seconds", HOST + ', fault="pud_anon"'),
                    needs=needs(FUNCTION_PROBES, PUD_THP),
                    heatmap=True,
                ),
            ),
            "do_huge_pud_anonymous_page entry to return. A 1 GiB fault can take seconds when "
            "alloc_contig_range has to migrate.",
            unit="s",
        ),
        Panel(
            "Fault latency percentiles",
            "timeseries",
            (
                Query(
                    quantile(
                        0.5, "thpwatch_fault_seconds", HOST + f', fault=~"{FAULT_KINDS}"', "fault"
                    ),
                    "p50 {{fault}}",
                    FUNCTIONS,
                ),
                Query(
                    quantile(
                        0.99, "thpwatch_fault_seconds", HOST + f', fault=~"{FAULT_KINDS}"', "fault"
                    ),
                    "p99 {{fault}}",
                    FUNCTIONS,
                ),
            ),
            "p50 and p99 per fault kind: PMD and PUD anonymous THP faults, whole-THP swap-in, "
            "4 KiB swap-in baseline.",
            unit="s",
        ),
        Panel(
            "Fault outcomes",
            "timeseries",
            (
                Query(
                    rate("thpwatch_faults_total", HOST, "fault, outcome"),
                    "{{fault}} {{outcome}}",
                    FUNCTIONS,
                ),
            ),
            "Faults per kind and outcome from the handler's return value (ok, major, fallback, "
            "oom, sigbus, retry, error).",
            unit="ops",
            width=12,
        ),
        Panel(
            "PMD swap-in: whole vs split fallback",
            "timeseries",
            (
                Query(
                    rate("thpwatch_pmd_swapin_total", HOST, "outcome"),
                    "{{outcome}}",
                    needs(FUNCTION_PROBES, PMD_SWAP),
                ),
            ),
            "do_huge_pmd_swap_page outcomes: whole 2 MiB swap-in (whole_from_device: read as "
            "one folio, whole_from_swap_cache) versus split_fallback to 512 PTE swap entries; "
            "also retry (an async read in flight, redone: not a swap-in), oom, sigbus, error.",
            unit="ops",
            width=12,
        ),
    ),
)

splits_and_stalls = Row(
    "Splits and stalls",
    (
        Panel(
            "Splits by level",
            "timeseries",
            (
                Query(
                    rate("thpwatch_splits_total", HOST, "level, result"),
                    "{{level}} {{result}}",
                    FUNCTIONS,
                ),
                Query(rate("thpwatch_vmstat_thp_split_pmd_total"), "pmd (vmstat)"),
            ),
            "Splits seen by the split probes per level and result (ok; an errno name = aborted, "
            "e.g. no PTE table at a lazy-PTE split; 'returned' where the split function is void) "
            "next to the kernel's thp_split_pmd counter.",
            unit="ops",
        ),
        Panel(
            "Split failures",
            "timeseries",
            (
                Query(
                    rate(
                        "thpwatch_splits_total", HOST + f', result!~"{SPLIT_DONE}"', "level, result"
                    ),
                    "{{level}} {{result}}",
                    FUNCTIONS,
                ),
                Query(
                    rate("thpwatch_mthp_split_failed_total", SIZED, "size"), "{{size}} split_failed"
                ),
            ),
            "Aborted splits: the split probes' errno results per level, and the kernel's per-size "
            "split_failed counters. Callers may retry or silently skip the work.",
            unit="ops",
        ),
        Panel(
            "Split latency p99",
            "timeseries",
            (
                Query(
                    quantile(0.99, "thpwatch_split_seconds", HOST, "level"),
                    "p99 {{level}}",
                    FUNCTIONS,
                ),
            ),
            "Time spent in __split_huge_pmd / __split_huge_pud / split_huge_page_to_list_to_order.",
            unit="s",
        ),
        Panel(
            "Compaction and reclaim stalls",
            "timeseries",
            (
                Query(rate("thpwatch_vmstat_compact_stall_total"), "compaction stalls (vmstat)"),
                Query(
                    quantile(0.99, "thpwatch_compaction_seconds", HOST, "instance"),
                    "compaction p99 (s)",
                    TRACEPOINTS,
                ),
                Query(
                    quantile(0.99, "thpwatch_direct_reclaim_seconds", HOST, "instance"),
                    "direct reclaim p99 (s)",
                    TRACEPOINTS,
                ),
            ),
            "Direct compaction stalls per second (vmstat compact_stall) and the p99 time tasks "
            "spent in direct compaction and direct reclaim (tracepoints).",
            unit="short",
        ),
        Panel(
            "Direct compaction latency",
            "heatmap",
            (Query(buckets("thpwatch_compaction_seconds", HOST), needs=TRACEPOINTS, heatmap=True),),
            "mm_compaction_begin to mm_compaction_end.",
            unit="s",
        ),
        Panel(
            "Direct reclaim latency",
            "heatmap",
            (
                Query(
                    buckets("thpwatch_direct_reclaim_seconds", HOST),
                    needs=TRACEPOINTS,
                    heatmap=True,
                ),
            ),
            "mm_vmscan_direct_reclaim_begin to _end.",
            unit="s",
        ),
        Panel(
            "Huge page allocations",
            "timeseries",
            (
                Query(
                    rate("thpwatch_page_alloc_total", HOST, "order, migratetype, reserved_gfp"),
                    "order {{order}} {{migratetype}} reserved={{reserved_gfp}}",
                    TRACEPOINTS,
                ),
            ),
            "Page allocations of order >= 2 by order and migratetype (mm_page_alloc, an opt-in "
            "probe: thpwatch run --enable-probe alloc); reserved=yes marks __GFP_RESERVED_THP "
            "allocations from the pool.",
            unit="ops",
        ),
    ),
)

agent = Row(
    "thpwatch itself",
    (
        Panel(
            "Probe states",
            "table",
            (Query(f"thpwatch_probe_state{{{HOST}}} == 1", needs=TRACEPOINTS, instant=True),),
            "Each BPF probe's state: ok, absent (the kernel lacks the symbol or tracepoint), "
            "blocked (refused, e.g. EPERM) or error.",
            width=12,
            height=8,
            hidden_columns=STATE_TABLE,
        ),
        Panel(
            "Source states",
            "table",
            (Query(f"thpwatch_source_state{{{HOST}}} == 1", instant=True),),
            "Each kernel source's state: ok, absent (not on this kernel), blocked or error.",
            width=12,
            height=8,
            hidden_columns=STATE_TABLE,
        ),
        Panel(
            "thpwatch CPU and scrape time",
            "timeseries",
            (
                Query(f"rate(process_cpu_seconds_total{{{HOST}}}[{WINDOW}])", "CPU (cores)"),
                Query(f"scrape_duration_seconds{{{HOST}}}", "scrape, seen by Prometheus (s)"),
                Query(f"thpwatch_scrape_duration_seconds{{{HOST}}}", "scrape, inside thpwatch (s)"),
            ),
            "What thpwatch costs: CPU seconds per second, and how long a scrape took (end to end, "
            "and reading every source inside thpwatch).",
        ),
        Panel(
            "thpwatch memory",
            "timeseries",
            (Query(f"process_resident_memory_bytes{{{HOST}}}", "RSS"),),
            "Resident memory of the thpwatch process.",
            unit="bytes",
        ),
        Panel(
            "Source read time",
            "timeseries",
            (
                Query(
                    f"thpwatch_source_duration_seconds{{{HOST}}}",
                    "{{source}}",
                ),
            ),
            "Time each source took to read in the last scrape.",
            unit="s",
        ),
    ),
)

HOST_DASHBOARD = Dashboard(
    uid="thpwatch-host",
    title="thpwatch / host",
    description="Transparent huge pages on one host: reserved pool, per-size THP activity, fault "
    "latency, splits, swap-in, stalls, and thpwatch's own state and cost.",
    variables=(
        Variable("job", "Job", "label_values(thpwatch_build_info, job)"),
        Variable(
            "instance",
            "Instance",
            'label_values(thpwatch_build_info{job=~"$job"}, instance)',
            False,
        ),
        Variable("size", "THP size", f"label_values(thpwatch_mthp_enabled{{{HOST}}}, size)"),
    ),
    rows=(reserved_pool, per_size, latency, splits_and_stalls, agent),
)
