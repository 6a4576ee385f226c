"""Source "mthp": every THP size's sysfs directory (hugepages-<size>kB/): its anon and shmem
modes and every stats/ file, discovered at run time (a stat a kernel adds is exported without a
code change). Absent when the kernel has no per-size directories."""

from __future__ import annotations

import re

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.metric import DiscoveredFamily
from thpwatch.sources.base import SourceAbsent, kernel_files
from thpwatch.sources.common import FromReadings, counter, emit_mode, gauge, stat_metric

ENABLED = gauge(
    "thpwatch_mthp_enabled", "1 for the current anon THP mode of a size.", ("size", "mode")
)
SHMEM_ENABLED = gauge(
    "thpwatch_mthp_shmem_enabled",
    "1 for the current shmem THP mode of a size.",
    ("size", "mode"),
)
METRICS = (ENABLED, SHMEM_ENABLED)

DISCOVERED = (
    DiscoveredFamily(
        re.compile(rf"thpwatch_mthp_(?P<stat>(?!{facts.GAUGE_PREFIX})[a-z0-9_]+)_total"),
        lambda stat: counter(
            stat_metric("mthp", stat), f"Per-size THP event count (stats/{stat}).", ("size",)
        ),
        tuple(s for s in facts.MTHP_KNOWN_STATS if not facts.is_gauge_stat(s)),
    ),
    DiscoveredFamily(
        re.compile(rf"thpwatch_mthp_(?P<stat>{facts.GAUGE_PREFIX}[a-z0-9_]+)(?<!_total)"),
        lambda stat: gauge(
            stat_metric("mthp", stat), f"Per-size THP current count (stats/{stat}).", ("size",)
        ),
        tuple(s for s in facts.MTHP_KNOWN_STATS if facts.is_gauge_stat(s)),
    ),
)


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
                emit_mode(out, ENABLED, size.enabled, size=size.size)
            if size.shmem_enabled:
                emit_mode(out, SHMEM_ENABLED, size.shmem_enabled, size=size.size)
            for stat, value in size.stats:
                out.add(stat_metric("mthp", stat), value, size=size.size)
        for problem in reading.problems:
            out.problem(problem)
