"""Sources over kernel files: one per file (or sysfs directory), each turning a parsed reading
into catalog samples.

A file the kernel does not have makes its source absent (never zeros); a file root may read
and we may not makes it blocked; garbage makes it error with the file and line named. One bad
line or stat file is a problem of that source: its other samples are still emitted.
"""

from __future__ import annotations

import re
from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.cmdline import read_cmdline
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.heldfiles import HeldFiles
from thpwatch.kernel.meminfo import read_meminfo
from thpwatch.kernel.pagetypeinfo import reserve_thp_blocks
from thpwatch.kernel.readings import KernelReadings
from thpwatch.kernel.text import Mode
from thpwatch.kernel.thp_settings import read_thp_settings
from thpwatch.kernel.vmstat import is_watched
from thpwatch.metric import DiscoveredFamily, Metric
from thpwatch.sources.base import SourceAbsent, kernel_files


def _gauge(name: str, help: str, labels: tuple[str, ...] = (), unit: str = "") -> Metric:
    return Metric(name, "gauge", help, labels, unit)


def _counter(name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
    return Metric(name, "counter", help, labels)


# promtool rejects "sec" in a metric name as an abbreviated unit.
_MEMINFO_WORDS = {"SecPageTables": "secondary_page_tables"}


def stat_metric(family: str, stat: str) -> str:
    """The metric of a vmstat line or mTHP stat file: thpwatch_mthp_nr_anon (a gauge),
    thpwatch_mthp_anon_fault_alloc_total (a counter)."""
    return (
        f"thpwatch_{family}_{stat}"
        if facts.is_gauge_stat(stat)
        else f"thpwatch_{family}_{stat}_total"
    )


def _snake(field: str) -> str:
    """meminfo field to metric word: AnonHugePages -> anon_huge_pages."""
    if field in _MEMINFO_WORDS:
        return _MEMINFO_WORDS[field]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", field).lower()


MEMINFO_METRICS = {f: f"thpwatch_meminfo_{_snake(f)}_bytes" for f in facts.MEMINFO_KB_FIELDS}
_VMSTAT_COUNTER_NAMES = tuple(n for n in facts.VMSTAT_NAMES if not facts.is_gauge_stat(n))
VMSTAT_COUNTED = (*facts.VMSTAT_KNOWN_THP, *facts.VMSTAT_KNOWN_COMPACT, *_VMSTAT_COUNTER_NAMES)
# the vmstat lines is_watched() reads that are counters, as a regex alternation
_VMSTAT_COUNTER = "|".join(
    [*(f"{re.escape(p)}[a-z0-9_]+" for p in facts.VMSTAT_PREFIXES), *_VMSTAT_COUNTER_NAMES]
)

METRICS = (
    _gauge("thpwatch_reserved_thp_pool_hpages", "Reserved THP pool size (total_hpages)."),
    _gauge("thpwatch_reserved_thp_free_hpages", "Reserved THP quota not charged (free_hpages)."),
    _gauge(
        "thpwatch_reserved_thp_used_hpages",
        "Reserved THP quota charged by madvise/fork/mremap (used_hpages); not residency.",
    ),
    _gauge("thpwatch_reserved_thp_pool_bytes", "Reserved THP pool size.", unit="bytes"),
    _gauge("thpwatch_reserved_thp_free_bytes", "Reserved THP quota not charged.", unit="bytes"),
    _gauge("thpwatch_reserved_thp_used_bytes", "Reserved THP quota charged.", unit="bytes"),
    _gauge(
        "thpwatch_reserved_thp_pageblocks",
        "Pageblocks of migratetype ReserveTHP, summed over nodes and zones (pagetypeinfo).",
    ),
    _gauge(
        "thpwatch_reserved_thp_resident_hpages",
        "Reserved huge pages in use: ReserveTHP memory not free as whole huge pages.",
    ),
    _gauge(
        "thpwatch_reserved_thp_unallocated_hpages",
        "Free ReserveTHP memory in whole huge pages (chunks of PMD order and above).",
    ),
    _gauge(
        "thpwatch_reserved_thp_requested_hpages",
        "Reserved huge pages asked for on the kernel command line (thp_reserved_nr).",
    ),
    _gauge(
        "thpwatch_reserved_thp_boot_shortfall_hpages",
        "Requested reserved huge pages the kernel did not reserve at boot.",
    ),
    _gauge(
        "thpwatch_reserved_thp_boot_param_valid",
        "1 if a thp_reserved_* boot parameter is one the kernel accepts, 0 if it rejects it.",
        ("param",),
    ),
    _gauge("thpwatch_mthp_enabled", "1 for the current anon THP mode of a size.", ("size", "mode")),
    _gauge(
        "thpwatch_mthp_shmem_enabled",
        "1 for the current shmem THP mode of a size.",
        ("size", "mode"),
    ),
    _gauge("thpwatch_thp_enabled", "1 for the current global THP mode.", ("mode",)),
    _gauge("thpwatch_thp_defrag", "1 for the current THP defrag mode.", ("mode",)),
    _gauge("thpwatch_thp_shmem_enabled", "1 for the current global shmem THP mode.", ("mode",)),
    _gauge("thpwatch_thp_use_zero_page", "1 if read faults may map the huge zero page."),
    _gauge("thpwatch_thp_pmd_size_bytes", "Size of a PMD THP (hpage_pmd_size).", unit="bytes"),
    _counter("thpwatch_khugepaged_pages_collapsed_total", "Huge pages khugepaged collapsed."),
    _counter("thpwatch_khugepaged_full_scans_total", "Full scans khugepaged completed."),
    _gauge(
        "thpwatch_khugepaged_scan_sleep_seconds",
        "Pause between khugepaged scan passes (scan_sleep_millisecs).",
        unit="seconds",
    ),
    _gauge(
        "thpwatch_khugepaged_alloc_sleep_seconds",
        "Pause after a failed huge page allocation by khugepaged (alloc_sleep_millisecs).",
        unit="seconds",
    ),
    _gauge("thpwatch_khugepaged_pages_to_scan", "Pages khugepaged scans per pass (pages_to_scan)."),
    _gauge(
        "thpwatch_khugepaged_max_ptes",
        "Most PTEs of a kind a collapse accepts (max_ptes_none, max_ptes_swap, max_ptes_shared), "
        "by kind: none, swap, shared.",
        ("kind",),
    ),
    _gauge("thpwatch_khugepaged_defrag", "1 if khugepaged may compact to allocate (defrag)."),
    _gauge(
        "thpwatch_vmstat_nr_anon_transparent_hugepages",
        "Anonymous THPs mapped, in PMD-sized units (/proc/vmstat).",
    ),
    *(
        _gauge(name, f"/proc/meminfo {field}.", unit="bytes")
        for field, name in MEMINFO_METRICS.items()
    ),
    _gauge(
        "thpwatch_meminfo_hugetlb_pages",
        "hugetlbfs pages by state (HugePages_Total/Free/Rsvd/Surp in /proc/meminfo).",
        ("state",),
    ),
    _gauge(
        "thpwatch_pageblocks",
        "Pageblocks per migratetype (/proc/pagetypeinfo).",
        ("node", "zone", "migratetype"),
    ),
    _gauge(
        "thpwatch_free_chunks",
        "Free chunks per migratetype and order (/proc/pagetypeinfo; 100000 means >100000).",
        ("node", "zone", "migratetype", "order"),
    ),
)

DISCOVERED = (
    DiscoveredFamily(
        re.compile(rf"thpwatch_mthp_(?P<stat>(?!{facts.GAUGE_PREFIX})[a-z0-9_]+)_total"),
        lambda stat: _counter(
            f"thpwatch_mthp_{stat}_total", f"Per-size THP event count (stats/{stat}).", ("size",)
        ),
        tuple(s for s in facts.MTHP_KNOWN_STATS if not facts.is_gauge_stat(s)),
    ),
    DiscoveredFamily(
        re.compile(rf"thpwatch_mthp_(?P<stat>{facts.GAUGE_PREFIX}[a-z0-9_]+)(?<!_total)"),
        lambda stat: _gauge(
            f"thpwatch_mthp_{stat}", f"Per-size THP current count (stats/{stat}).", ("size",)
        ),
        tuple(s for s in facts.MTHP_KNOWN_STATS if facts.is_gauge_stat(s)),
    ),
    DiscoveredFamily(
        re.compile(rf"thpwatch_vmstat_(?P<stat>{_VMSTAT_COUNTER})_total"),
        lambda stat: _counter(f"thpwatch_vmstat_{stat}_total", f"/proc/vmstat {stat}."),
        VMSTAT_COUNTED,
    ),
)


def emit_mode(out: Emitter, name: str, mode: Mode, **labels: str) -> None:
    for choice in mode.choices:
        out.add(name, float(choice == mode.current), mode=choice, **labels)


class FromReadings:
    """A source over files that other sources read too (shared once per Snapshot)."""

    def __init__(self, readings: KernelReadings) -> None:
        self.readings = readings


class FromRoot:
    """A source over files only it reads."""

    def __init__(self, root: Path) -> None:
        self.root = root


class ReservedThpSource(FromReadings):
    name = "reserved_thp"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            pool = self.readings.pool.get(self.name)
        if pool is None:
            raise SourceAbsent(
                f"no {self.readings.root / facts.RESERVED_THP_DIR}: kernel without Reserved THP"
            )
        out.add("thpwatch_reserved_thp_pool_hpages", pool.total_hpages)
        out.add("thpwatch_reserved_thp_free_hpages", pool.free_hpages)
        out.add("thpwatch_reserved_thp_used_hpages", pool.used_hpages)
        out.add("thpwatch_reserved_thp_pool_bytes", pool.total_bytes)
        out.add("thpwatch_reserved_thp_free_bytes", pool.free_bytes)
        out.add("thpwatch_reserved_thp_used_bytes", pool.used_bytes)


class MthpSource(FromReadings):
    name = "mthp"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            reading = self.readings.mthp.get(self.name)
        if not reading.sizes:
            raise SourceAbsent(
                f"no hugepages-*kB directory in {self.readings.root / facts.THP_DIR}"
            )
        for size in reading.sizes:
            if size.enabled:
                emit_mode(out, "thpwatch_mthp_enabled", size.enabled, size=size.size)
            if size.shmem_enabled:
                emit_mode(out, "thpwatch_mthp_shmem_enabled", size.shmem_enabled, size=size.size)
            for stat, value in size.stats:
                out.add(stat_metric("mthp", stat), value, size=size.size)
        for problem in reading.problems:
            out.problem(problem)


class ThpSettingsSource(FromRoot):
    name = "thp_settings"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.files = HeldFiles()

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            settings = read_thp_settings(self.root, self.files.text)
        if settings is None:
            raise SourceAbsent(f"no {self.root / facts.THP_DIR}: kernel without THP")
        emit_mode(out, "thpwatch_thp_enabled", settings.enabled)
        emit_mode(out, "thpwatch_thp_defrag", settings.defrag)
        if settings.shmem_enabled:
            emit_mode(out, "thpwatch_thp_shmem_enabled", settings.shmem_enabled)
        out.add("thpwatch_thp_use_zero_page", settings.use_zero_page)
        out.add("thpwatch_thp_pmd_size_bytes", settings.hpage_pmd_size)
        for setting, value in settings.khugepaged:
            emit_khugepaged(out, setting, value)


KHUGEPAGED_SLEEPS = {
    "scan_sleep_millisecs": "thpwatch_khugepaged_scan_sleep_seconds",
    "alloc_sleep_millisecs": "thpwatch_khugepaged_alloc_sleep_seconds",
}
KHUGEPAGED_PLAIN = {
    "pages_to_scan": "thpwatch_khugepaged_pages_to_scan",
    "defrag": "thpwatch_khugepaged_defrag",
}
MAX_PTES = "max_ptes_"


def emit_khugepaged(out: Emitter, setting: str, value: int) -> None:
    """One file of khugepaged/ in base units: counters, sleeps in seconds, PTE limits by kind.
    A file this version does not know is left out (its unit is unknown), not mislabelled."""
    if setting in facts.KHUGEPAGED_COUNTERS:
        out.add(f"thpwatch_khugepaged_{setting}_total", value)
    elif setting in KHUGEPAGED_SLEEPS:
        out.add(KHUGEPAGED_SLEEPS[setting], value / 1000)
    elif setting in KHUGEPAGED_PLAIN:
        out.add(KHUGEPAGED_PLAIN[setting], value)
    elif setting.startswith(MAX_PTES):
        out.add("thpwatch_khugepaged_max_ptes", value, kind=setting.removeprefix(MAX_PTES))


class VmstatSource(FromReadings):
    name = "vmstat"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            vmstat = self.readings.vmstat.get(self.name)
        for name, value in vmstat.values:
            if not is_watched(name):
                continue
            out.add(stat_metric("vmstat", name), value)
        for problem in vmstat.problems:
            out.problem(problem)


class MeminfoSource(FromRoot):
    name = "meminfo"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            meminfo = read_meminfo(self.root)
        for field, value in meminfo.values:
            if field in MEMINFO_METRICS:
                out.add(MEMINFO_METRICS[field], value)
            elif field in facts.MEMINFO_HUGETLB_COUNTS:
                out.add("thpwatch_meminfo_hugetlb_pages", value, state=field.split("_")[1].lower())
        for problem in meminfo.problems:
            out.problem(problem)


class PagetypeinfoSource(FromReadings):
    name = "pagetypeinfo"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            info = self.readings.pagetypeinfo.fresh(self.name)
            hpage_bytes = self.readings.hpage_pmd_size.get(self.name)
        for b in info.blocks:
            out.add(
                "thpwatch_pageblocks",
                b.count,
                node=str(b.node),
                zone=b.zone,
                migratetype=b.migratetype,
            )
        for f in info.free:
            for order, count in zip(info.orders, f.counts, strict=True):
                out.add(
                    "thpwatch_free_chunks",
                    count,
                    node=str(f.node),
                    zone=f.zone,
                    migratetype=f.migratetype,
                    order=str(order),
                )
        # Sums over a table with unreadable rows would understate free memory: not emitted.
        reserve = None if info.problems else reserve_thp_blocks(info, hpage_bytes)
        if reserve is not None:
            out.add("thpwatch_reserved_thp_pageblocks", reserve.pageblocks)
            out.add("thpwatch_reserved_thp_resident_hpages", reserve.resident_hpages)
            out.add("thpwatch_reserved_thp_unallocated_hpages", reserve.free_hpages)
        for problem in info.problems:
            out.problem(problem)


class CmdlineSource(FromReadings):
    """The Reserved THP boot request and what became of it."""

    name = "cmdline"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            hpage_bytes = self.readings.hpage_pmd_size.get(self.name)
            request = read_cmdline(self.readings.root, hpage_bytes)
            try:
                pool = self.readings.pool.get(self.name)
            except KernelFileError as e:  # the request is still worth showing
                out.problem(f"{e}; boot shortfall not computed")
                pool = None
        if not request.given and pool is None and not out.problems:
            raise SourceAbsent("no thp_reserved_* boot parameter and no Reserved THP support")
        for param, text, valid in (
            (facts.CMDLINE_RESERVED_SIZE, request.size_text, request.size_valid),
            (facts.CMDLINE_RESERVED_NR, request.nr_text, request.nr_valid),
        ):
            if text is not None:
                out.add("thpwatch_reserved_thp_boot_param_valid", float(valid), param=param)
        out.add("thpwatch_reserved_thp_requested_hpages", request.requested_hpages)
        if pool is not None:
            shortfall = max(0, request.requested_hpages - pool.total_hpages)
            out.add("thpwatch_reserved_thp_boot_shortfall_hpages", shortfall)
