"""Group alloc (bpf/alloc.bpf.c, opt-in): huge page allocations, kmem:mm_page_alloc of order
>= 2 by order x migratetype x reserved-THP GFP bit.

Opt-in for its measured cost (bench/README.md): the tracepoint fires on every page allocation
and added +6 % to a 4 KiB fault storm although its program exits at once for order < 2 (the
tracepoint builds its record before the program runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.group import Decoding, Known, Names, ProbeGroup, tracepoint_probe
from thpwatch.probes.maps import Counts, RawMaps

PROBE = "mm_page_alloc"
MIN_ORDER = 2  # orders below the smallest mTHP (16 KiB) are dropped at once


class AllocKey(NamedTuple):  # struct alloc_key
    order: int
    migratetype: int  # index in /proc/pagetypeinfo's columns
    reserved_gfp: int  # 1: the reserved-THP GFP bit was set


ALLOC_COUNTS = Counts("alloc_counts", AllocKey, "=IiI")

PAGE_ALLOCS = Metric(
    "thpwatch_page_alloc_total",
    "counter",
    "Page allocations of order >= 2 (kmem:mm_page_alloc), by order, migratetype name and "
    "whether the reserved-THP GFP bit was set.",
    ("order", "migratetype", "reserved_gfp"),
)


def migratetype(names: Names, index: int) -> str:
    if 0 <= index < len(names.migratetypes):
        return names.migratetypes[index]
    return str(index)


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    counts = ALLOC_COUNTS.of(raw)
    if counts is None or PROBE not in d.attached:
        return
    for k, n in sorted(counts.items()):
        out.add(
            PAGE_ALLOCS.name,
            n,
            order=str(k.order),
            migratetype=migratetype(d.names, k.migratetype),
            reserved_gfp="yes" if k.reserved_gfp else "no",
        )


def allocs_of_order(
    order: int, migratetypes: frozenset[int] | None = None
) -> Callable[[RawMaps], int | None]:
    """Allocations of `order` from `migratetypes` (None: from any)."""

    def total(raw: RawMaps) -> int | None:
        counts = ALLOC_COUNTS.of(raw)
        if counts is None:
            return None
        return sum(
            n
            for k, n in counts.items()
            if k.order == order and (migratetypes is None or k.migratetype in migratetypes)
        )

    return total


GROUP = ProbeGroup(
    "alloc",
    (tracepoint_probe(PROBE, "alloc", facts.TP_MM_PAGE_ALLOC),),
    maps=(ALLOC_COUNTS,),
    metrics=(PAGE_ALLOCS,),
    known=(
        Known(
            PAGE_ALLOCS.name,
            PROBE,
            (  # the PMD THP order; other orders appear with their first allocation
                ("order", (str(facts.PMD_ORDER),)),
                ("migratetype", lambda names: tuple(names.migratetypes)),
                ("reserved_gfp", ("no", "yes")),
            ),
        ),
    ),
    constants={
        "THPW_MIN_ORDER": MIN_ORDER,
        "THPW_GFP_RESERVED_THP": f"{facts.GFP_RESERVED_THP:#x}",
    },
    emit=emit,
    opt_in=True,
)
