"""Global THP settings: /sys/kernel/mm/transparent_hugepage/{enabled,defrag,...,khugepaged/*}."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.text import Mode, is_metric_word, read_decimal, read_mode


@dataclass(frozen=True)
class ThpSettings:
    enabled: Mode
    defrag: Mode
    use_zero_page: int  # 0 or 1
    hpage_pmd_size: int  # bytes of one PMD THP
    shmem_enabled: Mode | None  # None on kernels without CONFIG_SHMEM THP support
    khugepaged: tuple[tuple[str, int], ...]  # (file name, value), sorted by name


def read_hpage_pmd_size(root: Path) -> int:
    """Bytes in one PMD-sized THP, the unit of the reserved pool (2097152 on x86-64)."""
    return read_decimal(root / facts.THP_DIR / facts.THP_HPAGE_PMD_SIZE)


def read_thp_settings(root: Path) -> ThpSettings | None:
    """None when the kernel has no THP support at all (no transparent_hugepage directory)."""
    thp = root / facts.THP_DIR
    if not thp.is_dir():
        return None
    shmem = thp / facts.THP_SHMEM_ENABLED
    khugepaged_dir = thp / facts.KHUGEPAGED_DIR
    khugepaged = tuple(
        (f.name, read_decimal(f))
        for f in sorted(khugepaged_dir.iterdir() if khugepaged_dir.is_dir() else ())
        if is_metric_word(f.name)  # every entry: a directory or FIFO there is an error
    )
    return ThpSettings(
        enabled=read_mode(thp / facts.THP_ENABLED),
        defrag=read_mode(thp / facts.THP_DEFRAG),
        use_zero_page=read_decimal(thp / facts.THP_USE_ZERO_PAGE),
        hpage_pmd_size=read_hpage_pmd_size(root),
        shmem_enabled=read_mode(shmem) if shmem.exists() or shmem.is_symlink() else None,
        khugepaged=khugepaged,
    )
