"""Every metric name and label value the TUI reads, in one place (checked against the catalog)."""

from __future__ import annotations

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


# Reserved THP pool
POOL_HPAGES = "thpwatch_reserved_thp_pool_hpages"
POOL_FREE_HPAGES = "thpwatch_reserved_thp_free_hpages"
POOL_USED_HPAGES = "thpwatch_reserved_thp_used_hpages"
POOL_BYTES = "thpwatch_reserved_thp_pool_bytes"
RESIDENT_HPAGES = "thpwatch_reserved_thp_resident_hpages"
REQUESTED_HPAGES = "thpwatch_reserved_thp_requested_hpages"
BOOT_SHORTFALL_HPAGES = "thpwatch_reserved_thp_boot_shortfall_hpages"
CHECK_VIOLATION = "thpwatch_check_violation"
KMSG_OOM_LEAKED = "thpwatch_kmsg_oom_leaked_lines_total"

# BPF probes
MADVISE_CALLS = "thpwatch_madvise_calls_total"
MADVISE_RESERVED_THP = "reserved_thp"  # advice label value of MADV_RESERVED_THP (26)
MADVISE_ERRNOS = (("EINVAL", "misaligned / not private anon"), ("EAGAIN", "over quota"))
FAULTS = "thpwatch_faults_total"
FAULT_SECONDS = "thpwatch_fault_seconds"
FAULT_KINDS = (  # fault label -> what the latency panel calls it
    ("any", "all faults"),
    ("pmd_anon", "2M anon (PMD)"),
    ("pud_anon", "1G anon (PUD)"),
    ("pmd_swapin", "2M swap-in (PMD)"),
    ("pte_swapin", "4K swap-in (PTE)"),
)
OOM_OUTCOME = "oom"
SPLITS = "thpwatch_splits_total"
SPLIT_SECONDS = "thpwatch_split_seconds"
SPLIT_FAILED = "failed"
PMD_SWAPIN = "thpwatch_pmd_swapin_total"
DIRECT_RECLAIM_SECONDS = "thpwatch_direct_reclaim_seconds"
COMPACTION_SECONDS = "thpwatch_compaction_seconds"

# Processes and cgroups (detect's sources): every metric under the prefix is a column.
PROCESS_PREFIX = "thpwatch_process_"
PROCESS_KEY = "comm"  # a row's identity label; the scan summaries lack it
CGROUP_PREFIX = "thpwatch_cgroup_"
CGROUP_KEY = "cgroup"
