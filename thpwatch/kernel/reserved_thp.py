"""The Reserved THP pool: /sys/kernel/mm/reserved_thp/{total,free,used}_hpages (patched kernels)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.text import read_decimal
from thpwatch.kernel.thp_settings import read_hpage_pmd_size

# used_hpages is read twice around free_hpages; a madvise in between makes them disagree, so
# the three files are re-read (a few times at most) to get one consistent reading.
_ATTEMPTS = 3


@dataclass(frozen=True)
class ReservedThpPool:
    """Counts are PMD-sized huge pages; used is quota charged by madvise, not residency."""

    total_hpages: int
    free_hpages: int
    used_hpages: int
    hpage_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.total_hpages * self.hpage_bytes

    @property
    def free_bytes(self) -> int:
        return self.free_hpages * self.hpage_bytes

    @property
    def used_bytes(self) -> int:
        return self.used_hpages * self.hpage_bytes


def read_reserved_thp(root: Path) -> ReservedThpPool | None:
    """None when the kernel does not carry the Reserved THP series (no reserved_thp dir)."""
    pool = root / facts.RESERVED_THP_DIR
    if not pool.is_dir():
        return None
    for _ in range(_ATTEMPTS):
        used = read_decimal(pool / facts.RESERVED_THP_USED)
        free = read_decimal(pool / facts.RESERVED_THP_FREE)
        total = read_decimal(pool / facts.RESERVED_THP_TOTAL)
        if read_decimal(pool / facts.RESERVED_THP_USED) == used:
            break
    return ReservedThpPool(total, free, used, read_hpage_pmd_size(root))
