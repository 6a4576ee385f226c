"""Real memory workloads that make the kernel count THP events, for tests, bench/ and
`thpwatch doctor --selftest`, on private anonymous memory (thpwatch.libc); the swap some of them
need is thpwatch.swapdev.

Each workload returns a Did: what it did (counts and bytes), and the result of every madvise
call by advice and result name, so callers can compare with what the kernel and thpwatch counted.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path

from thpwatch import libc
from thpwatch.kernel import facts
from thpwatch.kernel.mthp import read_mthp
from thpwatch.kernel.text import read_mode
from thpwatch.probes.errors import result_name
from thpwatch.swapdev import temporary_swap  # noqa: F401  (probes/selftest.py's workload.X)

PAGE = facts.PAGE_SIZE
PMD_BYTES = facts.PMD_THP_BYTES
ENABLING_MODES = ("always", "madvise")


@dataclass
class Did:
    """What a workload did."""

    kind: str
    counts: dict[str, int] = field(default_factory=dict)  # e.g. {"thps": 64, "bytes": ...}
    madvise_calls: dict[tuple[str, str], int] = field(default_factory=dict)  # (advice, result)
    madvise_bytes: dict[tuple[str, str], int] = field(default_factory=dict)
    skipped: str = ""  # why it did nothing (e.g. the kernel lacks the feature)

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def merge(self, other: Did) -> None:
        for k, v in other.counts.items():
            self.add(k, v)
        for mine, theirs in (
            (self.madvise_calls, other.madvise_calls),
            (self.madvise_bytes, other.madvise_bytes),
        ):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


class Region:
    """A private anonymous mapping whose start is aligned to `align` (unmapped on exit)."""

    def __init__(self, length: int, align: int = PAGE) -> None:
        self.length = length
        self._span = length + align
        self._base = libc.mmap_anonymous(self._span)
        self.addr = (self._base + align - 1) & ~(align - 1)

    def __enter__(self) -> Region:
        return self

    def __exit__(self, *exc: object) -> None:
        libc.munmap(self._base, self._span)

    def madvise(self, advice: int, did: Did, offset: int = 0, length: int | None = None) -> str:
        """madvise() on part of the region; records the call in did; returns the result name."""
        length = self.length - offset if length is None else length
        err = libc.madvise(self.addr + offset, length, advice)
        result = "ok" if err == 0 else result_name(-err)
        key = (facts.MADV_NAMES.get(advice, str(advice)), result)
        did.madvise_calls[key] = did.madvise_calls.get(key, 0) + 1
        did.madvise_bytes[key] = did.madvise_bytes.get(key, 0) + length
        return result

    def write(self, step: int, offset: int = 0) -> int:
        """Write one byte every `step` bytes; returns how many writes."""
        n = 0
        for off in range(offset, self.length, step):
            ctypes.memset(self.addr + off, 1, 1)
            n += 1
        return n

    def read(self, step: int) -> int:
        total = 0
        for off in range(0, self.length, step):
            total += ctypes.string_at(self.addr + off, 1)[0]
        return total


def enabled_thp_sizes(root: Path = Path("/")) -> list[int]:
    """Bytes of every anonymous THP size a MADV_HUGEPAGE region can get here."""
    thp = root / facts.THP_DIR
    top = read_mode(thp / facts.THP_ENABLED).current
    sizes = []
    for size in read_mthp(root).sizes:
        mode = size.enabled.current if size.enabled else "never"
        if mode == "inherit":
            mode = top
        if mode in ENABLING_MODES:
            sizes.append(size.size_bytes)
    return sizes


def thp_faults(size: int = PMD_BYTES, count: int = 32) -> Did:
    """Fault `count` THPs of `size` bytes (MADV_HUGEPAGE, one write per THP), then unmap."""
    did = Did(f"thp_faults_{size // 1024}kB")
    with Region(size * count, size) as r:
        r.madvise(facts.MADV_HUGEPAGE, did)
        did.add("thps", r.write(size))
        did.add("bytes", size * count)
    return did


def thp_count(size: int, wanted: int, budget: int = 256 << 20) -> int:
    """How many THPs of `size` to fault: `wanted`, within `budget` bytes, at least one (a single
    1 GiB PUD THP, not 32 of them)."""
    return max(1, min(wanted, budget // size))


def thp_faults_every_size(count: int = 8, root: Path = Path("/")) -> Did:
    """THP faults of every enabled size (`count` each, capped by thp_count)."""
    did = Did("thp_faults_every_size")
    for size in enabled_thp_sizes(root):
        one = thp_faults(size, thp_count(size, count))
        did.merge(one)
        did.add(f"thps_{size // 1024}kB", one.counts["thps"])
    return did


def small_fault_storm(pages: int = 4096) -> Did:
    """Fault `pages` 4 KiB pages in a MADV_NOHUGEPAGE region."""
    did = Did("small_fault_storm")
    with Region(pages * PAGE, PMD_BYTES) as r:
        r.madvise(facts.MADV_NOHUGEPAGE, did)
        did.add("pages", r.write(PAGE))
    return did


def alloc_storm(rounds: int = 8, thps: int = 16) -> Did:
    """Repeated PMD THP faults and unmaps: `rounds * thps` order-9 allocations."""
    did = Did("alloc_storm")
    for _ in range(rounds):
        did.merge(thp_faults(PMD_BYTES, thps))
    return did


def madvise_storm(rounds: int = 16) -> Did:
    """THP-related madvise calls on a populated 2 MiB region, plus one that must fail (EINVAL:
    unaligned start) per round, so both results show up."""
    did = Did("madvise_storm")
    with Region(PMD_BYTES, PMD_BYTES) as r:
        r.write(PAGE)
        for _ in range(rounds):
            for advice in (
                facts.MADV_HUGEPAGE,
                facts.MADV_NOHUGEPAGE,
                facts.MADV_COLD,
                facts.MADV_PAGEOUT,
            ):
                r.madvise(advice, did)
            r.madvise(facts.MADV_HUGEPAGE, did, offset=1, length=PAGE)
    return did


def collapse(count: int = 4) -> Did:
    """Populate `count` PMD ranges with 4 KiB pages (MADV_NOHUGEPAGE), then MADV_COLLAPSE them
    into THPs synchronously (huge_memory:mm_collapse_huge_page, thp_collapse_alloc)."""
    did = Did("collapse")
    with Region(count * PMD_BYTES, PMD_BYTES) as r:
        r.madvise(facts.MADV_NOHUGEPAGE, did)
        did.add("pages", r.write(PAGE))
        r.madvise(facts.MADV_HUGEPAGE, did)
        result = r.madvise(facts.MADV_COLLAPSE, did)
        did.add("collapsed_ranges", count if result == "ok" else 0)
    return did


def split_thps(count: int = 8) -> Did:
    """Fault 2 * count PMD THPs; unmap one 4 KiB page inside each of the first `count` (a VMA
    split: the PMD is split, __split_huge_pmd) and MADV_COLD one 4 KiB page of each of the others
    (a partial range: the folio is split, split_huge_page_to_list_to_order). Splitting a
    PMD-mapped folio first splits its PMD, so the kernel counts 2 * count PMD splits
    (thp_split_pmd): count by munmap, count inside the folio splits."""
    did = Did("split_thps")
    with Region(2 * count * PMD_BYTES, PMD_BYTES) as r:
        r.madvise(facts.MADV_HUGEPAGE, did)
        did.add("thps", r.write(PMD_BYTES))
        for i in range(count):
            libc.munmap(r.addr + i * PMD_BYTES + PAGE, PAGE)
            r.madvise(facts.MADV_COLD, did, offset=(count + i) * PMD_BYTES + PAGE, length=PAGE)
        did.add("pmd_splits", 2 * count)
        did.add("folio_splits", count)
    return did


def pageout_retouch(thps: int = 32) -> Did:
    """Fault THPs, write every page, MADV_PAGEOUT them (swap-out; needs active swap), then read
    every 4 KiB page back (swap-in)."""
    did = Did("pageout_retouch")
    with Region(thps * PMD_BYTES, PMD_BYTES) as r:
        r.madvise(facts.MADV_HUGEPAGE, did)
        did.add("pages_written", r.write(PAGE))
        r.madvise(facts.MADV_PAGEOUT, did)
        r.read(PAGE)
        did.add("pages_read", r.length // PAGE)
    return did


def reserved_thp(hpages: int = 4, root: Path = Path("/")) -> Did:
    """madvise(MADV_RESERVED_THP) on an aligned region and fault it, where the kernel has the
    series; otherwise skipped with the reason."""
    did = Did("reserved_thp")
    if not (root / facts.RESERVED_THP_DIR).is_dir():
        did.skipped = f"/{facts.RESERVED_THP_DIR} missing: kernel without Reserved THP"
        return did
    with Region(hpages * PMD_BYTES, PMD_BYTES) as r:
        if r.madvise(facts.MADV_RESERVED_THP, did) == "ok":
            did.add("thps", r.write(PMD_BYTES))
    return did
