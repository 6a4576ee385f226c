"""Source "vmstat": the /proc/vmstat lines thpwatch watches (thp_*, compact_* and the named
ones of facts), discovered at run time: `nr_*` lines are gauges, the rest counters."""

from __future__ import annotations

import re

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.vmstat import is_watched
from thpwatch.metric import DiscoveredFamily
from thpwatch.sources.base import kernel_files
from thpwatch.sources.common import FromReadings, counter, gauge, stat_metric

METRICS = (
    gauge(
        "thpwatch_vmstat_nr_anon_transparent_hugepages",
        "Anonymous THPs mapped, in PMD-sized units (/proc/vmstat).",
    ),
)

_COUNTER_NAMES = tuple(n for n in facts.VMSTAT_NAMES if not facts.is_gauge_stat(n))
COUNTED = (*facts.VMSTAT_KNOWN_THP, *facts.VMSTAT_KNOWN_COMPACT, *_COUNTER_NAMES)
# the vmstat lines is_watched() reads that are counters, as a regex alternation
_COUNTER = "|".join(
    [*(f"{re.escape(p)}[a-z0-9_]+" for p in facts.VMSTAT_PREFIXES), *_COUNTER_NAMES]
)
DISCOVERED = (
    DiscoveredFamily(
        re.compile(rf"thpwatch_vmstat_(?P<stat>{_COUNTER})_total"),
        lambda stat: counter(stat_metric("vmstat", stat), f"/proc/vmstat {stat}."),
        COUNTED,
    ),
)


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
