"""Every kernel name and constant thpwatch relies on, each stated exactly once.

Paths are relative to a root directory ("/" in production, a fixture tree in tests): join them
with `root / PATH`. Why each fact holds is in docs/kernel-facts.md: [§pud-thp] cites its
section docs/kernel-facts.md#pud-thp. A later revision of a series should change one line here
and one there, nothing else.
"""

from __future__ import annotations

import mmap
import re

# --- sizes ----------------------------------------------------------------------------------------

PAGE_SIZE = mmap.PAGESIZE  # base page size of the running machine (fixtures are x86-64: 4096)
PTE_TABLE_BYTES = 4096  # one PTE page table (x86-64)
# A PUD THP pre-deposits 1 PMD table + 512 PTE tables [§pud-thp].
PUD_THP_DEPOSITED_TABLES = 513
PUD_THP_SIZE_DIR = "hugepages-1048576kB"  # exists only with the PUD THP series [§pud-thp]

# --- counters and gauges --------------------------------------------------------------------------

# /proc/vmstat lines and mTHP stats/ files named nr_* are current values (gauges); every other
# one counts events since boot.
GAUGE_PREFIX = "nr_"


def is_gauge_stat(name: str) -> bool:
    """A vmstat line or mTHP stat file that holds a current value rather than an event count."""
    return name.startswith(GAUGE_PREFIX)


# --- sysfs [§reserved-thp, §pud-thp, §baseline] ---------------------------------------------------

SYSFS_MM = "sys/kernel/mm"
THP_DIR = f"{SYSFS_MM}/transparent_hugepage"
RESERVED_THP_DIR = f"{SYSFS_MM}/reserved_thp"  # patched kernels only, even with a 0 pool
RESERVED_THP_TOTAL = "total_hpages"  # decimal, unit = PMD-sized huge pages
RESERVED_THP_FREE = "free_hpages"  # total - used
RESERVED_THP_USED = "used_hpages"  # quota charged by madvise/fork/mremap, not residency

# One directory per supported mTHP size, e.g. hugepages-2048kB; discovered, never listed.
MTHP_SIZE_DIR = re.compile(r"hugepages-(?P<kb>\d+)kB")
MTHP_ENABLED = "enabled"
MTHP_SHMEM_ENABLED = "shmem_enabled"
MTHP_STATS_DIR = "stats"
# Stat file names documented for current kernels (6.12..6.18); new ones are discovered.
MTHP_KNOWN_STATS = (
    "anon_fault_alloc",
    "anon_fault_fallback",
    "anon_fault_fallback_charge",
    "anon_fault_declined",
    "zswpout",
    "swpin",
    "swpin_fallback",
    "swpin_fallback_charge",
    "swpout",
    "swpout_fallback",
    "shmem_alloc",
    "shmem_fallback",
    "shmem_fallback_charge",
    "split",
    "split_failed",
    "split_deferred",
    "nr_anon",
    "nr_anon_partially_mapped",
)

# Global THP settings under THP_DIR.
THP_ENABLED = "enabled"
THP_DEFRAG = "defrag"
THP_USE_ZERO_PAGE = "use_zero_page"
THP_HPAGE_PMD_SIZE = "hpage_pmd_size"  # bytes, e.g. 2097152
THP_SHMEM_ENABLED = "shmem_enabled"
KHUGEPAGED_DIR = "khugepaged"  # every file in it is one decimal number
KHUGEPAGED_COUNTERS = ("pages_collapsed", "full_scans")  # the rest are tunables

# Mode files print every choice with the current one in brackets: "always [madvise] never";
# the choices differ between kernels and files, so they are read, never listed.

# --- procfs [§reserved-thp, §baseline] ------------------------------------------------------------

PROC_VMSTAT = "proc/vmstat"
PROC_MEMINFO = "proc/meminfo"
PROC_PAGETYPEINFO = "proc/pagetypeinfo"  # mode 0400: root only
PROC_CMDLINE = "proc/cmdline"

# /proc/vmstat: every name with these prefixes is read (discovered), plus the listed names.
VMSTAT_PREFIXES = ("thp_", "compact_")
VMSTAT_NAMES = ("pgfault", "pgmajfault", "pswpin", "pswpout", "nr_anon_transparent_hugepages")
VMSTAT_ANON_THPS = "nr_anon_transparent_hugepages"  # PMD-mapped anon THPs, in PMD-THP units
VMSTAT_THP_SPLIT_PMD = "thp_split_pmd"
VMSTAT_THP_SPLIT_PUD = "thp_split_pud"
VMSTAT_THP_SWPOUT_PMD = "thp_swpout_pmd"  # PMD swap series: one per PMD swap entry installed
VMSTAT_THP_FAULT_ALLOC = "thp_fault_alloc"  # PMD-sized anonymous THP faults
VMSTAT_THP_FAULT_FALLBACK = "thp_fault_fallback"
VMSTAT_KNOWN_THP = (
    "thp_migration_success",
    "thp_migration_fail",
    "thp_migration_split",
    "thp_fault_alloc",
    "thp_fault_fallback",
    "thp_fault_fallback_charge",
    "thp_collapse_alloc",
    "thp_collapse_alloc_failed",
    "thp_file_alloc",
    "thp_file_fallback",
    "thp_file_fallback_charge",
    "thp_file_mapped",
    "thp_split_page",
    "thp_split_page_failed",
    "thp_deferred_split_page",
    "thp_underused_split_page",
    "thp_split_pmd",
    "thp_scan_exceed_none_pte",
    "thp_scan_exceed_swap_pte",
    "thp_scan_exceed_share_pte",
    "thp_split_pud",
    "thp_zero_page_alloc",
    "thp_zero_page_alloc_failed",
    "thp_swpout",
    "thp_swpout_fallback",
)
VMSTAT_KNOWN_COMPACT = (
    "compact_migrate_scanned",
    "compact_free_scanned",
    "compact_isolated",
    "compact_stall",
    "compact_fail",
    "compact_success",
    "compact_daemon_wake",
    "compact_daemon_migrate_scanned",
    "compact_daemon_free_scanned",
)

# /proc/meminfo fields thpwatch reads. "kB" fields are KiB; HugePages_* are counts of hugetlb pages.
MEMINFO_KB_FIELDS = (
    "AnonHugePages",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "FileHugePages",
    "FilePmdMapped",
    "Hugepagesize",
    "Hugetlb",
    "PageTables",
    "SecPageTables",
)
MEMINFO_HUGETLB_COUNTS = ("HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp")

# /proc/pagetypeinfo: headers and row shapes (mm/vmstat.c); columns are read from the headers.
PAGETYPEINFO_BLOCK_ORDER = "Page block order:"
PAGETYPEINFO_PAGES_PER_BLOCK = "Pages per block:"
PAGETYPEINFO_FREE_HEADER = "Free pages count per migrate type at order"
PAGETYPEINFO_BLOCKS_HEADER = "Number of blocks type"
PAGETYPEINFO_FREE_ROW = re.compile(
    r"Node\s+(?P<node>\d+),\s+zone\s+(?P<zone>\S+),\s+type\s+(?P<type>\S+)\s+(?P<counts>.*)"
)
PAGETYPEINFO_BLOCKS_ROW = re.compile(
    r"Node\s+(?P<node>\d+),\s+zone\s+(?P<zone>\S+)\s+(?P<counts>.*)"
)
# Reserved THP's migratetype name; its index depends on the config: never hard-code it
# [§reserved-thp].
MIGRATETYPE_RESERVED_THP = "ReserveTHP"
# Anonymous and file THPs are allocated movable (reserved THPs from ReserveTHP); order-9
# allocations of other types are the kernel's own (kmalloc_large, ...), not THPs.
MIGRATETYPE_MOVABLE = "Movable"

# --- boot parameters [§reserved-thp] --------------------------------------------------------------

CMDLINE_RESERVED_SIZE = "thp_reserved_size"  # memparse(); only HPAGE_PMD_SIZE accepted
CMDLINE_RESERVED_NR = "thp_reserved_nr"  # sscanf("%lu%n") with nothing after the digits
CMDLINE_END_OF_PARAMS = "--"  # parse_args() stops here; the rest goes to init
# memparse() suffixes: each multiplies by 1024 per step below it.
MEMPARSE_SHIFTS = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}

# --- kernel log lines [§reserved-thp] (printk format -> regex) ------------------------------------

KMSG_RESERVED_BOOT = re.compile(
    r"reserved (?P<reserved>\d+)/(?P<requested>\d+) PMD THP pageblocks"
    r" \((?P<bytes>\d+) bytes each\)"
)
KMSG_UNSUPPORTED_SIZE = re.compile(
    r"unsupported thp_reserved_size=(?P<value>\S*), only (?P<supported>\d+) is supported"
)
KMSG_INVALID_NR = re.compile(r"invalid thp_reserved_nr=(?P<value>\S*)")
KMSG_OOM_LEAKED = re.compile(r"VM_FAULT_OOM leaked out to the #PF handler")

# --- per process [§reserved-thp, §lazy-pte, §baseline] --------------------------------------------

PROC_PID_SMAPS = "smaps"  # walks page tables: splits PUD THPs on the RFC as posted [§pud-thp]
PROC_PID_STATUS = "status"  # does not walk
SMAPS_VMFLAGS = "VmFlags"
SMAPS_ANON_HUGE = "AnonHugePages"
VMFLAG_RESERVED_THP = "rt"  # VM_RESERVED_THP
VMFLAG_HUGEPAGE = "hg"  # MADV_HUGEPAGE
STATUS_VMPTE = "VmPTE"

# cgroup memory.stat THP keys: v2, and the v1 memory controller's only THP fields [§cgroups].
CGROUP2_MEMSTAT_THP = ("anon_thp", "file_thp", "shmem_thp", "thp_fault_alloc", "thp_collapse_alloc")
CGROUP1_MEMSTAT_THP = ("total_rss_huge", "rss_huge")

# --- madvise, GFP, migratetypes, fault codes [§reserved-thp, §baseline] ---------------------------

MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_COLLAPSE = 25
MADV_RESERVED_THP = 26  # patched kernels; over quota madvise() fails with EAGAIN (not ENOMEM)
MADV_NAMES = {
    MADV_HUGEPAGE: "hugepage",
    MADV_NOHUGEPAGE: "nohugepage",
    MADV_COLD: "cold",
    MADV_PAGEOUT: "pageout",
    MADV_COLLAPSE: "collapse",
    MADV_RESERVED_THP: "reserved_thp",
}

GFP_RESERVED_THP = 0x200  # __GFP_RESERVED_THP, bit 9, seen in kmem:mm_page_alloc gfp_flags
PMD_ORDER = 9  # x86-64 with 4 KiB pages: order of a PMD THP allocation
PMD_THP_BYTES = PAGE_SIZE << PMD_ORDER  # one PMD THP (2 MiB on x86-64)
PMD_THP_SIZE = f"{PMD_THP_BYTES // 1024}kB"  # its mTHP size: the size label, hugepages-<size>
PUD_ORDER = 18
# Largest buddy-allocator order (MAX_PAGE_ORDER, x86-64). Larger folios (PUD THPs) come from
# alloc_contig_range and never show in kmem:mm_page_alloc.
MAX_PAGE_ORDER = 10

# vm_fault_t bits (include/linux/mm_types.h; identical in 6.1, 6.12 and 6.18)
VM_FAULT_OOM = 0x000001
VM_FAULT_SIGBUS = 0x000002
VM_FAULT_MAJOR = 0x000004
VM_FAULT_HWPOISON = 0x000010
VM_FAULT_HWPOISON_LARGE = 0x000020
VM_FAULT_SIGSEGV = 0x000040
VM_FAULT_RETRY = 0x000400
VM_FAULT_FALLBACK = 0x000800
# A handler that returned any of these mapped nothing (RETRY: redone; the rest: failures).
VM_FAULT_NOT_MAPPED = (
    VM_FAULT_OOM
    | VM_FAULT_SIGBUS
    | VM_FAULT_HWPOISON
    | VM_FAULT_HWPOISON_LARGE
    | VM_FAULT_SIGSEGV
    | VM_FAULT_RETRY
    | VM_FAULT_FALLBACK
)

# --- kernel functions [§reserved-thp, §pud-thp, §lazy-pte, §pmd-swap, §baseline] ------------------

FN_HANDLE_MM_FAULT = "handle_mm_fault"
FN_DO_HUGE_PMD_ANON = "do_huge_pmd_anonymous_page"
FN_DO_HUGE_PUD_ANON = "do_huge_pud_anonymous_page"  # PUD THP series
FN_DO_HUGE_PMD_SWAP = "do_huge_pmd_swap_page"  # PMD swap series
FN_DO_SWAP_PAGE = "do_swap_page"
FN_SPLIT_HUGE_PMD = "__split_huge_pmd"
FN_SPLIT_HUGE_PUD = "__split_huge_pud"
FN_SPLIT_HUGE_PAGE = "split_huge_page_to_list_to_order"  # (page, list, new_order) -> int, 6.8+
FN_SPLIT_HUGE_PAGE_OLD = "split_huge_page_to_list"  # (page, list) -> int, before 6.8 (6.1)
FN_SPLIT_HUGE_PMD_LOCKED = "split_huge_pmd_locked"
FN_RESERVED_THP_CHARGE = "reserved_thp_charge"  # int (0 or -ENOMEM); Reserved THP series
FN_RESERVED_THP_UNCHARGE = "reserved_thp_uncharge"  # void
FN_SWAPIN_ALLOC_PMD_FOLIO = "swapin_alloc_pmd_folio"  # PMD swap series; NULL = failure

# Lazy PTE detection: the series adds this parameter to split_huge_pmd_locked (and the
# __ variant). Detect it by name/type in BTF, never by counting parameters [§lazy-pte].
LAZY_PTE_PARAM_NAME = "pgtable"
LAZY_PTE_PARAM_TYPE = "pgtable_t"
# The prototypes that gain it (the __ variant is static, often inlined).
LAZY_PTE_FUNCTIONS = (FN_SPLIT_HUGE_PMD_LOCKED, "__split_huge_pmd_locked")

# --- tracepoints [§baseline] (subsystem, event) ---------------------------------------------------

TP_MM_PAGE_ALLOC = ("kmem", "mm_page_alloc")  # pfn, order, gfp_flags, migratetype
TP_SYS_ENTER_MADVISE = ("syscalls", "sys_enter_madvise")  # start, len_in, behavior
TP_SYS_EXIT_MADVISE = ("syscalls", "sys_exit_madvise")  # ret
TP_COLLAPSE_HUGE_PAGE = ("huge_memory", "mm_collapse_huge_page")  # mm, isolated, status
TP_MIGRATE_PAGES = ("migrate", "mm_migrate_pages")
TP_DIRECT_RECLAIM_BEGIN = ("vmscan", "mm_vmscan_direct_reclaim_begin")
TP_DIRECT_RECLAIM_END = ("vmscan", "mm_vmscan_direct_reclaim_end")
TP_COMPACTION_BEGIN = ("compaction", "mm_compaction_begin")
TP_COMPACTION_END = ("compaction", "mm_compaction_end")

# --- feature detection [§reserved-thp, §pud-thp, §lazy-pte, §pmd-swap] ----------------------------

SYS_BTF_VMLINUX = "sys/kernel/btf/vmlinux"
PROC_KALLSYMS = "proc/kallsyms"
PROC_OSRELEASE = "proc/sys/kernel/osrelease"
TRACEFS = "sys/kernel/tracing"
DEBUGFS_TRACING = "sys/kernel/debug/tracing"  # where tracefs also appears on older setups

# --- detect: feature evidence, per-process scan, cgroups, kernel log ------------------------------

# smaps pud_entry added by the shared PUD port (not by the posted RFC): with it, reading smaps
# accounts a PUD THP instead of splitting it [§pud-thp].
FN_SMAPS_PUD_WALKER = "smaps_pud_range"
STATUS_RSS_ANON = "RssAnon"
DEV_KMSG = "dev/kmsg"
CGROUP_ROOT = "sys/fs/cgroup"
CGROUP1_MEMORY = "sys/fs/cgroup/memory"  # v1 memory controller (hybrid hosts) [§cgroups]
CGROUP_MEMSTAT = "memory.stat"
CGROUP2_CONTROLLERS = "cgroup.controllers"  # lists "memory" where v2 has the controller
# the v2 mount inside sys/fs/cgroup on v1/v2 hybrid hosts [§cgroups]
CGROUP2_UNIFIED = "unified"
