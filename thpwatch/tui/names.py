"""Every metric name and label value the TUI reads, in one place (checked against the catalog)."""

from __future__ import annotations

from thpwatch.kernel import facts

# Header
KERNEL_INFO = "thpwatch_kernel_info"
SERIES = (  # kernel_info label -> what the header calls the series
    ("reserved_thp", "Reserved THP"),
    ("pud_thp", "PUD THP"),
    ("lazy_pte", "lazy PTE"),
    ("pmd_swap", "PMD swap"),
)

# Global THP mode (/sys/kernel/mm/transparent_hugepage/enabled)
THP_ENABLED = "thpwatch_thp_enabled"

# Per-size (mTHP) sysfs
MTHP_ENABLED = "thpwatch_mthp_enabled"
MTHP_NR_ANON = "thpwatch_mthp_nr_anon"
MTHP_PREFIX = "thpwatch_mthp_"


def mthp_counter(stat: str) -> str:
    """Name of the counter for one hugepages-<size>/stats/<stat> file."""
    return f"{MTHP_PREFIX}{stat}_total"


def vmstat_counter(field: str) -> str:
    return f"thpwatch_vmstat_{field}_total"


MTHP_ALLOC = mthp_counter("anon_fault_alloc")
MTHP_FALLBACK = mthp_counter("anon_fault_fallback")
MTHP_SPLIT_FAILED = mthp_counter("split_failed")
MTHP_SWPIN = mthp_counter("swpin")
MTHP_SWPIN_FALLBACK = mthp_counter("swpin_fallback")
PMD_SIZE = facts.PMD_THP_SIZE  # the size label of PMD THPs (whole-THP swap-in is PMD only)
VMSTAT_SPLIT_PMD = vmstat_counter("thp_split_pmd")
VMSTAT_SPLIT_PUD = vmstat_counter("thp_split_pud")
VMSTAT_SPLIT_PAGE = vmstat_counter("thp_split_page")
VMSTAT_SPLIT_PAGE_FAILED = vmstat_counter("thp_split_page_failed")
VMSTAT_SWPOUT = vmstat_counter("thp_swpout")  # THPs written whole (either path below)
VMSTAT_SWPOUT_PMD = vmstat_counter("thp_swpout_pmd")  # kept huge: one PMD swap entry
VMSTAT_SWPOUT_FALLBACK = vmstat_counter("thp_swpout_fallback")  # split before swap-out
VMSTAT_COMPACT_STALL = vmstat_counter("compact_stall")
VMSTAT_COMPACT_FAIL = vmstat_counter("compact_fail")


# Reserved THP pool
POOL_HPAGES = "thpwatch_reserved_thp_pool_hpages"
POOL_FREE_HPAGES = "thpwatch_reserved_thp_free_hpages"
POOL_USED_HPAGES = "thpwatch_reserved_thp_used_hpages"
POOL_BYTES = "thpwatch_reserved_thp_pool_bytes"
RESIDENT_HPAGES = "thpwatch_reserved_thp_resident_hpages"
REQUESTED_HPAGES = "thpwatch_reserved_thp_requested_hpages"
BOOT_SHORTFALL_HPAGES = "thpwatch_reserved_thp_boot_shortfall_hpages"
CHECK_VIOLATION = "thpwatch_check_violation"
CHECK_OBSERVED = "thpwatch_check_observed"
CHECK_LIMIT = "thpwatch_check_limit"
KMSG_OOM_LEAKED = "thpwatch_kmsg_oom_leaked_lines_total"

# BPF probes
BPF_SOURCE = "bpf"
MADVISE_CALLS = "thpwatch_madvise_calls_total"
MADVISE_RESERVED_THP = "reserved_thp"  # advice label value of MADV_RESERVED_THP (26)
MADVISE_OK = "ok"  # result label of a madvise() that succeeded; failures carry the errno name
MADVISE_ERRNOS = (("EINVAL", "misaligned / not private anon"), ("EAGAIN", "over quota"))
FAULTS = "thpwatch_faults_total"
FAULT_SECONDS = "thpwatch_fault_seconds"
FAULT_PROBE_GROUPS = ("faults", "faults_any", "swapin")  # probe status detail "group"
FAULT_KINDS = (  # fault label -> what the latency panel calls it
    ("any", "all faults"),
    ("pmd_anon", "2M anon (PMD)"),
    ("pud_anon", "1G anon (PUD)"),
    ("pmd_swapin", "2M swap-in whole (PMD)"),
    ("pte_swapin", "4K swap-in (PTE)"),
)
OOM_OUTCOME = "oom"
FALLBACK_OUTCOME = "fallback"  # the fault handler gave up on this page size
SPLITS = "thpwatch_splits_total"
SPLIT_SECONDS = "thpwatch_split_seconds"
SPLIT_SUCCESS = ("ok", "returned")  # any other result is an errno name: the split failed
PMD_SWAPIN = "thpwatch_pmd_swapin_total"
PMD_SWAPIN_WHOLE = ("whole_from_device", "whole_from_swap_cache")  # mapped by one PMD
PMD_SWAPIN_NOT_SWAPIN = ("retry",)  # redone at once: neither a swap-in nor a failure
DIRECT_RECLAIM_SECONDS = "thpwatch_direct_reclaim_seconds"
COMPACTION_SECONDS = "thpwatch_compaction_seconds"

# Processes and cgroups (detect's sources): every metric under the prefix is a column.
# Source names, for what a replay did not record
PROCESS_SOURCE = "procscan"
CGROUP_SOURCE = "cgroups"
POOL_SOURCE = "reserved_thp"
MTHP_SOURCE = "mthp"
PROCESS_SMAPS_STATUS = "procscan.smaps"  # why the smaps-based columns are missing, if they are
PROCESS_PREFIX = "thpwatch_process_"
PROCESS_KEY = "comm"  # a row's identity label; the scan summaries lack it
CGROUP_PREFIX = "thpwatch_cgroup_"
CGROUP_KEY = "cgroup"
# Column titles of the process and cgroup tables, in the order the columns (and the sort key
# cycle) go; a metric not listed here still gets a column, after these, titled by its name.
COLUMN_TITLES = {
    "thpwatch_process_anon_huge_bytes": "THP",
    "thpwatch_process_reserved_thp_bytes": "rt VMAs",
    "thpwatch_process_reserved_thp_resident_bytes": "rt resident",
    "thpwatch_process_hugepage_vma_bytes": "hg VMAs",
    "thpwatch_process_anon_rss_bytes": "anon RSS",
    "thpwatch_process_pagetable_bytes": "page tables",
    "thpwatch_cgroup_anon_thp_bytes": "anon THP",
    "thpwatch_cgroup_v1_rss_huge_bytes": "rss_huge",
    "thpwatch_cgroup_v1_total_rss_huge_bytes": "total_rss_huge",
    "thpwatch_cgroup_shmem_thp_bytes": "shmem THP",
    "thpwatch_cgroup_file_thp_bytes": "file THP",
    "thpwatch_cgroup_thp_fault_alloc_total": "THP faults",
    "thpwatch_cgroup_thp_collapse_alloc_total": "collapses",
}
