"""/proc/pagetypeinfo: free chunks per order and pageblocks per migratetype, per node and zone.

Columns come from the file's own headers: the orders of the free-count table and the
migratetype names of the block table. So the ReserveTHP migratetype of Reserved THP kernels (whose
index depends on the config) appears without being named here, and so would any future type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import parse_int, read_text, shown

MAX_LINE_CHARS = 4096  # a row has one count per order (11) or migratetype (~8)


@dataclass(frozen=True)
class FreeChunks:
    node: int
    zone: str
    migratetype: str
    counts: tuple[int, ...]  # free chunks at each order of PageTypeInfo.orders


@dataclass(frozen=True)
class Pageblocks:
    node: int
    zone: str
    migratetype: str
    count: int


@dataclass(frozen=True)
class PageTypeInfo:
    pageblock_order: int
    pages_per_block: int
    orders: tuple[int, ...]  # columns of the free-count table
    migratetypes: tuple[str, ...]  # columns of the block table
    free: tuple[FreeChunks, ...]
    blocks: tuple[Pageblocks, ...]
    problems: tuple[str, ...]  # rows that could not be used (the rest are kept)

    def pageblocks(self, migratetype: str) -> int:
        """Pageblocks of one migratetype, summed over every node and zone."""
        return sum(b.count for b in self.blocks if b.migratetype == migratetype)

    def free_pages(self, migratetype: str, min_order: int = 0) -> int:
        """Base pages free in chunks of at least min_order, summed over every node and zone."""
        return sum(
            count << order
            for f in self.free
            if f.migratetype == migratetype
            for order, count in zip(self.orders, f.counts, strict=True)
            if order >= min_order
        )


def read_pagetypeinfo(root: Path) -> PageTypeInfo:
    path = root / facts.PROC_PAGETYPEINFO
    return parse_pagetypeinfo(path, read_text(path))


def parse_pagetypeinfo(path: Path | str, text: str) -> PageTypeInfo:
    block_order = pages_per_block = None
    orders: tuple[int, ...] = ()
    migratetypes: tuple[str, ...] = ()
    free: list[FreeChunks] = []
    blocks: list[Pageblocks] = []
    problems: list[str] = []
    section = ""  # "free", "blocks", or "" for a section thpwatch does not read
    seen: dict[tuple[str, ...], str] = {}  # row key -> where it was first
    if not text.strip():
        raise KernelFileError(path, "empty file")
    lines = text.split("\n")
    if lines.pop() != "":
        problems.append(f"{path}: line {len(lines) + 1}: truncated (no newline), ignored")
    for number, line in enumerate(lines, 1):
        where = f"{path}: line {number}"
        if len(line) > MAX_LINE_CHARS:  # no table row is that long: garbage, not a new table
            problems.append(f"{where}: {len(line)} characters, not a pagetypeinfo line")
        elif line.startswith(facts.PAGETYPEINFO_BLOCK_ORDER):
            block_order = _number(where, line.removeprefix(facts.PAGETYPEINFO_BLOCK_ORDER))
        elif line.startswith(facts.PAGETYPEINFO_PAGES_PER_BLOCK):
            pages_per_block = _number(where, line.removeprefix(facts.PAGETYPEINFO_PAGES_PER_BLOCK))
        elif line.startswith(facts.PAGETYPEINFO_FREE_HEADER):
            section = "free"
            words = line.removeprefix(facts.PAGETYPEINFO_FREE_HEADER).split()
            orders = tuple(_number(where, w) for w in words)
        elif line.startswith(facts.PAGETYPEINFO_BLOCKS_HEADER):
            section = "blocks"
            migratetypes = tuple(line.removeprefix(facts.PAGETYPEINFO_BLOCKS_HEADER).split())
        elif not line.strip():
            continue
        elif not line.startswith("Node"):
            section = ""  # another table (e.g. mixed blocks with page_owner): not read
        elif section == "free":
            row, counts = _row(
                facts.PAGETYPEINFO_FREE_ROW, "free", where, line, len(orders), problems
            )
            if counts is not None:
                key = ("free", row["node"], row["zone"], row["type"])
                if _first(key, where, seen, problems):
                    node = parse_int(where, row["node"])
                    free.append(FreeChunks(node, row["zone"], row["type"], counts))
        elif section == "blocks":
            row, counts = _row(
                facts.PAGETYPEINFO_BLOCKS_ROW, "block", where, line, len(migratetypes), problems
            )
            if counts is not None and _first(
                ("blocks", row["node"], row["zone"]), where, seen, problems
            ):
                node, zone = parse_int(where, row["node"]), row["zone"]
                blocks.extend(
                    Pageblocks(node, zone, mt, n)
                    for mt, n in zip(migratetypes, counts, strict=True)
                )
    if block_order is None or pages_per_block is None:
        raise KernelFileError(path, f"no '{facts.PAGETYPEINFO_BLOCK_ORDER}' header")
    for header, found in (
        (facts.PAGETYPEINFO_FREE_HEADER, orders),
        (facts.PAGETYPEINFO_BLOCKS_HEADER, migratetypes),
    ):
        if not found:
            problems.append(f"{path}: no '{header}' table")
    return PageTypeInfo(
        block_order,
        pages_per_block,
        orders,
        migratetypes,
        tuple(free),
        tuple(blocks),
        tuple(problems),
    )


def _number(where: str, word: str) -> int:
    return parse_int(where, word.strip())


def _first(key: tuple[str, ...], where: str, seen: dict[tuple[str, ...], str], problems) -> bool:
    """False (and a problem) for a row the table already had: two values for one series."""
    if key in seen:
        problems.append(f"{where}: duplicate row for {' '.join(key[1:])} (first at {seen[key]})")
        return False
    seen[key] = where.rpartition(": ")[2]
    return True


def _row(
    pattern: re.Pattern[str],
    what: str,
    where: str,
    line: str,
    expected: int,
    problems: list[str],
) -> tuple[Any, tuple[int, ...] | None]:
    """A table row and its counts; counts None (and a problem) unless it has `expected` 64-bit
    numbers. The kernel stops counting a free list at 100000 and prints '>100000': kept as
    100000, a lower bound."""
    row = pattern.fullmatch(line.strip())
    values = [w.removeprefix(">") for w in row["counts"].split()] if row else []
    if len(values) != expected:
        problems.append(f"{where}: expected {expected} {what} counts: {shown(line.strip())}")
        return row, None
    try:
        return row, tuple(parse_int(where, v) for v in values)
    except KernelFileError as e:
        problems.append(str(e))
        return row, None


@dataclass(frozen=True)
class ReserveThpBlocks:
    """What /proc/pagetypeinfo says about the Reserved THP pool, in PMD-sized huge pages."""

    pageblocks: int  # ReserveTHP pageblocks summed over every node and zone
    hpages: int  # the same memory in huge pages (1:1 where pageblock order = PMD order)
    free_hpages: int  # free ReserveTHP chunks of at least PMD order, in huge pages

    @property
    def resident_hpages(self) -> int:
        """Reserved blocks not free as a whole huge page: the reserved THPs in use."""
        return self.hpages - self.free_hpages


def reserve_thp_blocks(
    info: PageTypeInfo, hpage_bytes: int, page_size: int = facts.PAGE_SIZE
) -> ReserveThpBlocks | None:
    """None on kernels without the ReserveTHP migratetype (in the block table's header).

    Free memory counts chunks of every order >= the PMD order: adjacent free reserved blocks
    merge into order-10 chunks, which hold two huge pages each. Smaller chunks cannot back a
    PMD fault, so they count as in use.
    """
    mt = facts.MIGRATETYPE_RESERVED_THP
    if mt not in info.migratetypes:
        return None
    hpage_pages = hpage_bytes // page_size
    hpage_order = hpage_pages.bit_length() - 1
    pageblocks = info.pageblocks(mt)
    return ReserveThpBlocks(
        pageblocks=pageblocks,
        hpages=pageblocks * info.pages_per_block // hpage_pages,
        free_hpages=info.free_pages(mt, hpage_order) // hpage_pages,
    )
