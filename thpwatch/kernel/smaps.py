"""/proc/<pid>/smaps, summarised per process: THP bytes and the VMAs marked rt / hg.

Reading smaps walks the process's page tables; on kernels with the PUD THP RFC as posted that
walk splits every 1 GiB THP (docs/kernel-facts.md#pud-thp). Callers decide whether to read it
at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.pid_status import kb_field_bytes
from thpwatch.kernel.text import shown

# "7f12a0000000-7f12c0000000 rw-p 00000000 00:00 0    [heap]"
_VMA_HEADER = re.compile(r"^(?P<start>[0-9a-f]{1,16})-(?P<end>[0-9a-f]{1,16}) ")
_FIELD_KEY = re.compile(r"^\w+$")


@dataclass
class SmapsSummary:
    """Sums over every VMA of one process; sizes in bytes."""

    vmas: int = 0
    anon_huge_bytes: int = 0  # AnonHugePages: PMD/PUD-mapped anonymous THP memory
    reserved_thp_vmas: int = 0  # VmFlags "rt" (Reserved THP series)
    reserved_thp_bytes: int = 0  # size of those VMAs: what the process has reserved
    reserved_thp_resident_bytes: int = 0  # AnonHugePages inside them: what is faulted in
    hugepage_vmas: int = 0  # VmFlags "hg" (MADV_HUGEPAGE)
    hugepage_vma_bytes: int = 0


@dataclass
class _Vma:
    size: int
    anon_huge: int = 0
    flags: frozenset[str] = frozenset()
    keys: set[str] = field(default_factory=set)


def summarize_smaps(lines: Iterable[str], origin: str) -> SmapsSummary:
    """Sum one smaps file. Raises KernelFileError naming origin and line for a malformed line."""
    summary = SmapsSummary()
    vma: _Vma | None = None
    for number, line in enumerate(lines, 1):
        header = _VMA_HEADER.match(line)
        if header:
            if vma is not None:
                _account(summary, vma)
            size = int(header["end"], 16) - int(header["start"], 16)
            if size <= 0:
                raise KernelFileError(origin, f"line {number}: VMA ends before it starts")
            vma = _Vma(size)
            continue
        key, colon, value = line.partition(":")
        if not colon or not _FIELD_KEY.match(key):
            if not line.strip():
                continue
            raise KernelFileError(origin, f"line {number}: not a smaps line: {shown(line.strip())}")
        if vma is None:
            raise KernelFileError(origin, f"line {number}: {key} before the first VMA header")
        if key in vma.keys:
            raise KernelFileError(origin, f"line {number}: a second {key} line in one VMA")
        vma.keys.add(key)
        if key == facts.SMAPS_VMFLAGS:
            vma.flags = frozenset(value.split())
        elif key == facts.SMAPS_ANON_HUGE:
            size = kb_field_bytes(value)
            if size is None:
                raise KernelFileError(
                    origin, f"line {number}: {key} is {shown(value.strip())}, not kB"
                )
            vma.anon_huge = size
    if vma is not None:
        _account(summary, vma)
    return summary


def _account(summary: SmapsSummary, vma: _Vma) -> None:
    summary.vmas += 1
    summary.anon_huge_bytes += vma.anon_huge
    if facts.VMFLAG_RESERVED_THP in vma.flags:
        summary.reserved_thp_vmas += 1
        summary.reserved_thp_bytes += vma.size
        summary.reserved_thp_resident_bytes += vma.anon_huge
    if facts.VMFLAG_HUGEPAGE in vma.flags:
        summary.hugepage_vmas += 1
        summary.hugepage_vma_bytes += vma.size
