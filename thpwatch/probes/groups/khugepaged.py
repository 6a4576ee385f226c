"""Group khugepaged (bpf/khugepaged.bpf.c): collapse results by status (names from the event's
print format) and THP migration results. Both run in kernel threads (khugepaged, kcompactd) as
often as in tasks: no process filter."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import Metric
from thpwatch.probes.group import CEnum, Decoding, Known, ProbeGroup, tracepoint_probe
from thpwatch.probes.maps import CounterArray, Counts, RawMaps

COLLAPSE_PROBE, MIGRATE_PROBE = "collapse_huge_page", "migrate_pages"
SCAN_SUCCEED = 1  # the status of a collapse that succeeded (the event's format names it)
MIGRATE_THP = CEnum("MIGRATE_THP", ("succeeded", "failed", "split"))  # migrate_counts index


class CollapseKey(NamedTuple):  # collapse_counts key: the event's status field
    status: int


COLLAPSE_COUNTS = Counts("collapse_counts", CollapseKey, "=i")
MIGRATE_COUNTS = CounterArray("migrate_counts")

COLLAPSES = Metric(
    "thpwatch_khugepaged_collapse_total",
    "counter",
    "Huge page collapses (huge_memory:mm_collapse_huge_page, khugepaged and MADV_COLLAPSE) "
    "by status name from the event's print format.",
    ("status",),
)
MIGRATIONS = Metric(
    "thpwatch_thp_migration_total",
    "counter",
    "THPs migrated (migrate:mm_migrate_pages thp_* fields): succeeded, failed, split.",
    ("result",),
)


def emit(raw: RawMaps, d: Decoding, out: Emitter) -> None:
    collapses = COLLAPSE_COUNTS.of(raw)
    if collapses is not None and COLLAPSE_PROBE in d.attached:
        for k, n in sorted(collapses.items()):
            label = d.names.collapse_status.get(k.status, str(k.status))
            out.add(COLLAPSES.name, n, status=label)
    migrations = MIGRATE_COUNTS.of(raw)
    if migrations is not None and MIGRATE_PROBE in d.attached:
        for result, n in zip(MIGRATE_THP.members, migrations, strict=True):
            out.add(MIGRATIONS.name, n, result=result)


def collapses_with_status(status: int) -> Callable[[RawMaps], int | None]:
    def total(raw: RawMaps) -> int | None:
        collapses = COLLAPSE_COUNTS.of(raw)
        return None if collapses is None else collapses.get(CollapseKey(status), 0)

    return total


GROUP = ProbeGroup(
    "khugepaged",
    (
        tracepoint_probe(COLLAPSE_PROBE, "khugepaged", facts.TP_COLLAPSE_HUGE_PAGE),
        tracepoint_probe(MIGRATE_PROBE, "khugepaged", facts.TP_MIGRATE_PAGES),
    ),
    maps=(COLLAPSE_COUNTS, MIGRATE_COUNTS),
    metrics=(COLLAPSES, MIGRATIONS),
    known=(
        Known(
            COLLAPSES.name,
            COLLAPSE_PROBE,
            (("status", lambda names: tuple(dict.fromkeys(names.collapse_status.values()))),),
        ),
        Known(MIGRATIONS.name, MIGRATE_PROBE, (("result", MIGRATE_THP.members),)),
    ),
    enums=(MIGRATE_THP,),
    emit=emit,
)
