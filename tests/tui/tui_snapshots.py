"""Hand-made Snapshots for the TUI's unit tests: a stock host like this machine, and a host
with all four series whose reserved pool is in trouble."""

from __future__ import annotations

from thpwatch.snapshot import Histogram, Sample, Snapshot, SourceStatus, State, labels_of

STOCK_SIZES = ("16kB", "32kB", "64kB", "2048kB")
PATCHED_SIZES = ("64kB", "2048kB", "1048576kB")
BLOCKED = "fentry refused (EPERM), no kprobes"
LAT_BOUNDS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)


def s(name: str, value, **labels: str) -> Sample:
    return Sample(name, labels_of(labels), value)


def per_size(sizes, t: float, modes: dict[str, str]) -> list[Sample]:
    out = []
    for i, size in enumerate(sizes):
        for mode in ("always", "inherit", "madvise", "never"):
            out.append(
                s(
                    "thpwatch_mthp_enabled",
                    1.0 if modes[size] == mode else 0.0,
                    size=size,
                    mode=mode,
                )
            )
        out.append(s("thpwatch_mthp_nr_anon", 10.0 * (i + 1) + t, size=size))
        # alloc grows 30/s, fallback 10/s -> 25 % fallback; split 2/s; swap 1/s, 0.5/s
        out.append(s("thpwatch_mthp_anon_fault_alloc_total", 100 + 30 * t, size=size))
        out.append(s("thpwatch_mthp_anon_fault_fallback_total", 50 + 10 * t, size=size))
        out.append(s("thpwatch_mthp_split_total", 7 + 2 * t, size=size))
        out.append(s("thpwatch_mthp_swpout_total", 3 + t, size=size))
        out.append(s("thpwatch_mthp_swpin_total", 4 + 0.5 * t, size=size))
        out.append(s("thpwatch_mthp_swpin_fallback_total", 1.0, size=size))
        out.append(s("thpwatch_mthp_split_failed_total", 0.0, size=size))
    # a size with only shmem stats (like hugepages-8kB here): no enabled, no anon counters
    out.append(s("thpwatch_mthp_shmem_alloc_total", 5.0, size="8kB"))
    return out


def vmstat(t: float) -> list[Sample]:
    return [
        s("thpwatch_vmstat_thp_split_pmd_total", 20 + 4 * t),
        s("thpwatch_vmstat_thp_split_page_total", 2.0),
        s("thpwatch_vmstat_thp_split_page_failed_total", 0.0),
        s("thpwatch_vmstat_compact_stall_total", 1 + t),
        s("thpwatch_vmstat_compact_fail_total", 0.0),
        s("thpwatch_vmstat_thp_swpout_total", 10 + 3 * t),
        s("thpwatch_vmstat_thp_swpout_fallback_total", 4 + t),
    ]


def stock(t: float) -> Snapshot:
    modes = {"16kB": "never", "32kB": "never", "64kB": "never", "2048kB": "inherit"}
    samples = [
        s(
            "thpwatch_kernel_info",
            1.0,
            release="6.18.0-test",
            reserved_thp="no",
            pud_thp="no",
            lazy_pte="no",
            pmd_swap="no",
        ),
        s("thpwatch_thp_enabled", 1.0, mode="madvise"),
        s("thpwatch_thp_enabled", 0.0, mode="always"),
        *per_size(STOCK_SIZES, t, modes),
        *vmstat(t),
    ]
    statuses = (
        SourceStatus("files", "source", State.OK),
        SourceStatus("reserved_thp", "source", State.ABSENT, "no /sys/kernel/mm/reserved_thp"),
        SourceStatus(
            "do_huge_pmd_anonymous_page",
            "probe",
            State.BLOCKED,
            BLOCKED,
            detail=(("group", "faults"),),
        ),
        SourceStatus(
            "handle_mm_fault", "probe", State.BLOCKED, BLOCKED, detail=(("group", "faults_any"),)
        ),
        SourceStatus("mm_page_alloc", "probe", State.OK, "", detail=(("group", "alloc"),)),
    )
    return Snapshot(1000.0 + t, t, tuple(samples), statuses)


def fault_hist(t: float, scale: float) -> Histogram:
    n = int(100 * t)
    return Histogram(LAT_BOUNDS, (0, n // 4, n // 2, n, n), n, n * 1e-4 * scale)


def patched(t: float, pool_free: float = 10.0, violated: bool = True) -> Snapshot:
    modes = {"64kB": "never", "2048kB": "madvise", "1048576kB": "always"}
    samples = [
        s(
            "thpwatch_kernel_info",
            1.0,
            release="6.12.0-thp+",
            reserved_thp="yes",
            pud_thp="yes",
            lazy_pte="yes",
            pmd_swap="yes",
        ),
        *per_size(PATCHED_SIZES, t, modes),
        *vmstat(t),
        s("thpwatch_vmstat_thp_split_pud_total", 1 + t),
        s("thpwatch_vmstat_thp_swpout_pmd_total", 2 + 2 * t),  # PMD swap series only
        s("thpwatch_reserved_thp_pool_hpages", 64.0),
        s("thpwatch_reserved_thp_used_hpages", 64.0 - pool_free),
        s("thpwatch_reserved_thp_free_hpages", pool_free),
        s("thpwatch_reserved_thp_pool_bytes", 64.0 * 2 * 1024 * 1024),
        s("thpwatch_reserved_thp_resident_hpages", 40.0),
        s("thpwatch_reserved_thp_requested_hpages", 80.0),
        s("thpwatch_reserved_thp_boot_shortfall_hpages", 16.0),
        s("thpwatch_check_violation", 1.0 if violated else 0.0, check="quota_exceeds_free_blocks"),
        s("thpwatch_check_observed", 10.0, check="quota_exceeds_free_blocks"),
        s("thpwatch_check_limit", 4.0, check="quota_exceeds_free_blocks"),
        s("thpwatch_check_violation", 0.0, check="used_plus_free_is_total"),
        s("thpwatch_madvise_calls_total", 3 + t, advice="reserved_thp", result="EINVAL"),
        s("thpwatch_madvise_calls_total", 2.0, advice="reserved_thp", result="EAGAIN"),
        s("thpwatch_madvise_calls_total", 50 + t, advice="reserved_thp", result="ok"),
        s("thpwatch_faults_total", 5 + 2 * t, fault="pmd_anon", outcome="oom"),
        s("thpwatch_faults_total", 1 + t, fault="pud_anon", outcome="fallback"),
        s("thpwatch_kmsg_oom_leaked_lines_total", 3 + t),
        s("thpwatch_fault_seconds", fault_hist(t, 1), fault="pmd_anon"),
        s("thpwatch_fault_seconds", fault_hist(t, 3), fault="pud_anon"),
        s("thpwatch_splits_total", 1 + t, level="pmd", result="ENOMEM"),
        s("thpwatch_splits_total", 9 + t, level="pmd", result="ok"),
        s("thpwatch_pmd_swapin_total", 4 + t, outcome="whole_from_device"),
        s("thpwatch_pmd_swapin_total", 9 + 3 * t, outcome="retry"),
        s("thpwatch_pmd_swapin_total", 1 + t, outcome="split_fallback"),
        s("thpwatch_process_anon_huge_bytes", 8 * 2**21, pid="101", comm="db"),
        s("thpwatch_process_reserved_thp_bytes", 2 * 2**21, pid="101", comm="db"),
        s("thpwatch_process_anon_huge_bytes", 2 * 2**21, pid="202", comm="cache"),
        s("thpwatch_process_reserved_thp_bytes", 30 * 2**21, pid="202", comm="cache"),
        s("thpwatch_cgroup_anon_thp_bytes", 10 * 2**21, cgroup="/system.slice/db.service"),
        # scan summaries share the prefix but are not rows
        s("thpwatch_process_scan_processes", 250.0),
        s("thpwatch_process_scan_skipped", 3.0, reason="vanished"),
    ]
    statuses = (
        SourceStatus("files", "source", State.OK),
        SourceStatus(
            "do_huge_pmd_anonymous_page", "probe", State.OK, "", detail=(("group", "faults"),)
        ),
        SourceStatus(
            "do_huge_pud_anonymous_page", "probe", State.OK, "", detail=(("group", "faults"),)
        ),
    )
    return Snapshot(2000.0 + t, t, tuple(samples), statuses)
