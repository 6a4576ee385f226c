"""Source "reserved_thp": the Reserved THP pool's quota (sysfs reserved_thp/), in huge pages and
bytes. Absent on kernels without the Reserved THP series."""

from __future__ import annotations

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.sources.base import SourceAbsent, kernel_files
from thpwatch.sources.common import FromReadings, gauge

POOL_HPAGES = gauge("thpwatch_reserved_thp_pool_hpages", "Reserved THP pool size (total_hpages).")
FREE_HPAGES = gauge(
    "thpwatch_reserved_thp_free_hpages", "Reserved THP quota not charged (free_hpages)."
)
USED_HPAGES = gauge(
    "thpwatch_reserved_thp_used_hpages",
    "Reserved THP quota charged by madvise/fork/mremap (used_hpages); not residency.",
)
POOL_BYTES = gauge("thpwatch_reserved_thp_pool_bytes", "Reserved THP pool size.", unit="bytes")
FREE_BYTES = gauge(
    "thpwatch_reserved_thp_free_bytes", "Reserved THP quota not charged.", unit="bytes"
)
USED_BYTES = gauge("thpwatch_reserved_thp_used_bytes", "Reserved THP quota charged.", unit="bytes")
METRICS = (POOL_HPAGES, FREE_HPAGES, USED_HPAGES, POOL_BYTES, FREE_BYTES, USED_BYTES)


class ReservedThpSource(FromReadings):
    name = "reserved_thp"

    def collect(self, out: Emitter) -> None:
        with kernel_files():
            pool = self.readings.pool.get(self.name)
        if pool is None:
            raise SourceAbsent(
                f"no {self.readings.root / facts.RESERVED_THP_DIR}: kernel without Reserved THP"
            )
        out.add(POOL_HPAGES, pool.total_hpages)
        out.add(FREE_HPAGES, pool.free_hpages)
        out.add(USED_HPAGES, pool.used_hpages)
        out.add(POOL_BYTES, pool.total_bytes)
        out.add(FREE_BYTES, pool.free_bytes)
        out.add(USED_BYTES, pool.used_bytes)
