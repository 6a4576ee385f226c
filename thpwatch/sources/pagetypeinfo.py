"""Source "pagetypeinfo": pageblocks and free chunks per migratetype (/proc/pagetypeinfo), and
the Reserved THP pool's blocks counted from them (how much of the pool is in use)."""

from __future__ import annotations

from thpwatch.emitter import Emitter
from thpwatch.kernel.pagetypeinfo import reserve_thp_blocks
from thpwatch.sources.base import kernel_files
from thpwatch.sources.common import FromReadings, gauge

PAGEBLOCKS = gauge(
    "thpwatch_pageblocks",
    "Pageblocks per migratetype (/proc/pagetypeinfo).",
    ("node", "zone", "migratetype"),
)
FREE_CHUNKS = gauge(
    "thpwatch_free_chunks",
    "Free chunks per migratetype and order (/proc/pagetypeinfo; 100000 means >100000).",
    ("node", "zone", "migratetype", "order"),
)
RESERVED_PAGEBLOCKS = gauge(
    "thpwatch_reserved_thp_pageblocks",
    "Pageblocks of migratetype ReserveTHP, summed over nodes and zones (pagetypeinfo).",
)
RESERVED_RESIDENT_HPAGES = gauge(
    "thpwatch_reserved_thp_resident_hpages",
    "Reserved huge pages in use: ReserveTHP memory not free as whole huge pages.",
)
RESERVED_UNALLOCATED_HPAGES = gauge(
    "thpwatch_reserved_thp_unallocated_hpages",
    "Free ReserveTHP memory in whole huge pages (chunks of PMD order and above).",
)
METRICS = (
    PAGEBLOCKS,
    FREE_CHUNKS,
    RESERVED_PAGEBLOCKS,
    RESERVED_RESIDENT_HPAGES,
    RESERVED_UNALLOCATED_HPAGES,
)


class PagetypeinfoSource(FromReadings):
    name = "pagetypeinfo"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            info = self.readings.pagetypeinfo.fresh(self.name)
            hpage_bytes = self.readings.hpage_pmd_size.get(self.name)
        for b in info.blocks:
            out.add(PAGEBLOCKS, b.count, node=str(b.node), zone=b.zone, migratetype=b.migratetype)
        for f in info.free:
            for order, count in zip(info.orders, f.counts, strict=True):
                out.add(
                    FREE_CHUNKS,
                    count,
                    node=str(f.node),
                    zone=f.zone,
                    migratetype=f.migratetype,
                    order=str(order),
                )
        # Sums over a table with unreadable rows would understate free memory: not emitted.
        reserve = None if info.problems else reserve_thp_blocks(info, hpage_bytes)
        if reserve is not None:
            out.add(RESERVED_PAGEBLOCKS, reserve.pageblocks)
            out.add(RESERVED_RESIDENT_HPAGES, reserve.resident_hpages)
            out.add(RESERVED_UNALLOCATED_HPAGES, reserve.free_hpages)
        for problem in info.problems:
            out.problem(problem)
