"""Global THP settings: /sys/kernel/mm/transparent_hugepage/{enabled,defrag,...,khugepaged/*}."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.text import (
    Mode,
    is_metric_word,
    parse_decimal,
    parse_mode,
    read_decimal,
    read_required,
)


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


def read_thp_settings(
    root: Path, read: Callable[[Path], str] = read_required
) -> ThpSettings | None:
    """None when the kernel has no THP support at all (no transparent_hugepage directory).
    read: how a file's text is read (HeldFiles.text keeps them open in the daemon)."""

    def decimal(path: Path) -> int:
        return parse_decimal(path, read(path))

    def mode(path: Path) -> Mode:
        return parse_mode(path, read(path))

    thp = root / facts.THP_DIR
    if not thp.is_dir():
        return None
    shmem = thp / facts.THP_SHMEM_ENABLED
    khugepaged_dir = thp / facts.KHUGEPAGED_DIR
    khugepaged = tuple(
        (f.name, decimal(f))
        for f in sorted(khugepaged_dir.iterdir() if khugepaged_dir.is_dir() else ())
        if is_metric_word(f.name)  # every entry: a directory or FIFO there is an error
    )
    return ThpSettings(
        enabled=mode(thp / facts.THP_ENABLED),
        defrag=mode(thp / facts.THP_DEFRAG),
        use_zero_page=decimal(thp / facts.THP_USE_ZERO_PAGE),
        hpage_pmd_size=decimal(thp / facts.THP_HPAGE_PMD_SIZE),
        shmem_enabled=mode(shmem) if shmem.exists() or shmem.is_symlink() else None,
        khugepaged=khugepaged,
    )
