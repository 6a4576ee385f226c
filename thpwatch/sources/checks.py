"""Consistency checks: what the kernel is supposed to hold, evaluated on every Snapshot.

Each check compares an observed number with the limit the kernel's own design sets and is
exported metric-ready: thpwatch_check_violation{check} (0/1) with the two numbers behind it in
thpwatch_check_observed{check} and thpwatch_check_limit{check}. The checks
(docs/kernel-facts.md#reserved-thp):

- reserve_pageblocks_match_pool: ReserveTHP pageblocks summed over zones must equal the pool
  (total_hpages, in pageblocks). More blocks means an ordinary pageblock was converted, which
  the RFC's allocator slowpath does.
- pool_used_plus_free: used_hpages + free_hpages must equal total_hpages.
- quota_backed_by_free_blocks: the quota (free_hpages) must not promise more huge pages than the
  ReserveTHP free lists hold (whole huge pages, all orders). MADV_(NO)HUGEPAGE on a populated
  reserved VMA releases quota but leaves the pages mapped; reserved faults then fail with OOM.
- resident_within_pool: reserved THPs in use must not exceed the pool.

Also the page-table deposit estimate: 4 KiB per PMD-mapped anon THP on kernels that pre-deposit
a PTE table (those without the lazy-PTE series), 513 tables (~2 MiB) per PUD THP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.mthp import MthpReading
from thpwatch.kernel.pagetypeinfo import PageTypeInfo, ReserveThpBlocks, reserve_thp_blocks
from thpwatch.kernel.readings import KernelReadings
from thpwatch.kernel.reserved_thp import ReservedThpPool
from thpwatch.metric import Metric
from thpwatch.sources.base import SourceAbsent, kernel_files

VIOLATION = Metric(
    "thpwatch_check_violation",
    "gauge",
    "1 while a kernel consistency check fails, 0 while it holds.",
    ("check",),
)
OBSERVED = Metric(
    "thpwatch_check_observed",
    "gauge",
    "The number a consistency check observed (see thpwatch_check_limit).",
    ("check",),
)
LIMIT = Metric(
    "thpwatch_check_limit",
    "gauge",
    "What a consistency check's observed number must equal or stay at or below.",
    ("check",),
)
DEPOSIT_ESTIMATE = Metric(
    "thpwatch_pagetable_deposit_estimate_bytes",
    "gauge",
    "ESTIMATE of page-table memory pre-deposited for mapped anon THPs, by THP level.",
    ("level",),
    "bytes",
)
METRICS = (VIOLATION, OBSERVED, LIMIT, DEPOSIT_ESTIMATE)


@dataclass(frozen=True)
class CheckResult:
    check: str
    observed: int
    limit: int
    violated: bool
    explanation: str  # one sentence with the numbers, for humans


# What a violation of each check means on a real host, and what to do about it (doctor).
CHECK_MEANINGS: dict[str, tuple[str, str]] = {
    "pool_used_plus_free": (
        "reserved_thp used_hpages + free_hpages does not add up to total_hpages",
        "a kernel accounting bug in the Reserved THP series: report it with the sysfs values",
    ),
    "reserve_pageblocks_match_pool": (
        "more (or fewer) ReserveTHP pageblocks in /proc/pagetypeinfo than the pool holds: "
        "an ordinary pageblock was converted (the RFC's allocator slowpath does this)",
        "run a kernel with the slowpath fix (ALLOC_RESERVED_THP kept in the slowpath)",
    ),
    "quota_backed_by_free_blocks": (
        "the quota promises more reserved THPs (free_hpages) than there are free ReserveTHP "
        "blocks: reserved faults will fail with OOM",
        "find the processes holding reserved THPs after MADV_HUGEPAGE/NOHUGEPAGE released "
        "their quota (`thpwatch top`, rt VMAs) and restart them",
    ),
    "resident_within_pool": (
        "more reserved THPs resident than the pool has: a pageblock outside the pool became "
        "ReserveTHP (see reserve_pageblocks_match_pool)",
        "run a kernel with the slowpath fix; otherwise report it with /proc/pagetypeinfo",
    ),
}


def _equal(check: str, observed: int, limit: int, what: str) -> CheckResult:
    return CheckResult(check, observed, limit, observed != limit, f"{what}: {observed} vs {limit}")


def _at_most(check: str, observed: int, limit: int, what: str) -> CheckResult:
    return CheckResult(check, observed, limit, observed > limit, f"{what}: {observed} <= {limit}?")


def pool_checks(pool: ReservedThpPool) -> list[CheckResult]:
    used_free = pool.used_hpages + pool.free_hpages
    return [
        _equal("pool_used_plus_free", used_free, pool.total_hpages, "used + free vs total hpages")
    ]


def block_checks(
    pool: ReservedThpPool, blocks: ReserveThpBlocks, pages_per_block: int, page_size: int
) -> list[CheckResult]:
    expected = pool.total_hpages * pool.hpage_bytes // (pages_per_block * page_size)
    return [
        _equal(
            "reserve_pageblocks_match_pool",
            blocks.pageblocks,
            expected,
            "ReserveTHP pageblocks vs pool pageblocks",
        ),
        _at_most(
            "quota_backed_by_free_blocks",
            pool.free_hpages,
            blocks.free_hpages,
            "quota free_hpages vs free ReserveTHP huge pages",
        ),
        _at_most(
            "resident_within_pool",
            blocks.resident_hpages,
            pool.total_hpages,
            "resident reserved THPs vs pool",
        ),
    ]


def reserved_checks(
    pool: ReservedThpPool, info: PageTypeInfo | None, page_size: int = facts.PAGE_SIZE
) -> list[CheckResult]:
    """Every reserved-pool check the readings allow (pagetypeinfo may be unreadable)."""
    results = pool_checks(pool)
    blocks = reserve_thp_blocks(info, pool.hpage_bytes, page_size) if info else None
    if info is not None and blocks is None:
        # A pool directory but no ReserveTHP migratetype: every block is missing.
        blocks = ReserveThpBlocks(0, 0, 0)
    if info is not None and blocks is not None:
        results += block_checks(pool, blocks, info.pages_per_block, page_size)
    return results


def deposit_estimate(
    anon_thp_units: int, mthp: MthpReading, hpage_bytes: int, deposits_pte_table: bool | None
) -> dict[str, int]:
    """Estimated deposited page-table bytes by level ("pmd", "pud"); a level is left out when
    the kernel lacks it or whether it deposits is unknown.

    anon_thp_units is vmstat nr_anon_transparent_hugepages (PMD-sized units, PUD THPs included).
    """
    estimate: dict[str, int] = {}
    pud = mthp.size(facts.PUD_THP_SIZE_DIR.removeprefix("hugepages-"))
    pud_thps = (pud.stat("nr_anon") or 0) if pud else 0
    if pud is not None:
        estimate["pud"] = pud_thps * facts.PUD_THP_DEPOSITED_TABLES * facts.PTE_TABLE_BYTES
    if deposits_pte_table is not None:
        pmd_thps = max(0, anon_thp_units - pud_thps * (pud.size_bytes // hpage_bytes if pud else 0))
        estimate["pmd"] = pmd_thps * facts.PTE_TABLE_BYTES if deposits_pte_table else 0
    return estimate


class ChecksSource:
    """Reads what the checks need through the shared readings (so no file is read twice per
    Snapshot) and reports each check; independent of where it sits in the source list."""

    name = "checks"

    def __init__(
        self, readings: KernelReadings, lazy_pte: Callable[[], bool | None] = lambda: None
    ) -> None:
        self.readings = readings
        self.lazy_pte = lazy_pte  # True/False when feature detection knows, None when it doesn't

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            pool = self.readings.pool.get(self.name)
        results = reserved_checks(pool, self._pagetypeinfo(out)) if pool is not None else []
        for r in results:
            out.add(VIOLATION, float(r.violated), check=r.check)
            out.add(OBSERVED, r.observed, check=r.check)
            out.add(LIMIT, r.limit, check=r.check)
        with kernel_files():
            hpage_bytes = self.readings.hpage_pmd_size.get(self.name)
            anon_thps = self.readings.vmstat.get(self.name).get(facts.VMSTAT_ANON_THPS)
            mthp = self.readings.mthp.get(self.name)
        lazy = self.lazy_pte()
        if anon_thps is not None:
            estimate = deposit_estimate(
                anon_thps, mthp, hpage_bytes, None if lazy is None else not lazy
            )
            for level, value in estimate.items():
                out.add(DEPOSIT_ESTIMATE, value, level=level)
        if not results and not out.samples:
            raise SourceAbsent(
                "nothing to check: no Reserved THP pool, no PUD THP size, and whether the kernel"
                " deposits PTE tables (lazy-PTE series) is not known"
            )

    def _pagetypeinfo(self, out: Emitter) -> PageTypeInfo | None:
        """pagetypeinfo when it can be trusted whole; a partial table would fake a violation."""
        skipped = "ReserveTHP block checks skipped"
        try:
            info = self.readings.pagetypeinfo.get(self.name)
        except OSError as e:
            out.problem(f"{e.filename}: {e.strerror}; {skipped}")
            return None
        except KernelFileError as e:
            out.problem(f"{e}; {skipped}")
            return None
        if info.problems:
            out.problem(f"{info.problems[0]} (and {len(info.problems) - 1} more); {skipped}")
            return None
        return info
