from __future__ import annotations

import pytest
from fixturetree import FIXTURES, PATCHED, STOCK, tree

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.pagetypeinfo import (
    PageTypeInfo,
    ReserveThpBlocks,
    parse_pagetypeinfo,
    read_pagetypeinfo,
    reserve_thp_blocks,
)

PATCHED_TYPES = (
    "Unmovable",
    "Movable",
    "Reclaimable",
    "HighAtomic",
    "CMA",
    "ReserveTHP",
    "Isolate",
)


def test_stock_columns_from_headers():
    p = read_pagetypeinfo(STOCK)
    assert p.problems == ()
    assert (p.pageblock_order, p.pages_per_block) == (9, 512)
    assert p.orders == tuple(range(11))
    assert p.migratetypes == ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")
    assert len(p.free) == 3 * 5 and len(p.blocks) == 3 * 5
    assert "ReserveTHP" not in p.migratetypes
    assert reserve_thp_blocks(p, 2 << 20) is None


def test_patched_reservethp_column_and_rows():
    p = read_pagetypeinfo(PATCHED)
    assert p.problems == ()
    assert p.migratetypes == PATCHED_TYPES
    assert p.pageblocks("ReserveTHP") == 16 + 48
    assert p.pageblocks("Movable") == 7 + 1487 + 1380
    dma32 = next(f for f in p.free if f.zone == "DMA32" and f.migratetype == "ReserveTHP")
    assert dma32.counts == (4, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3)
    # order 9: 2 + 6 blocks, order 10: 3 + 10 chunks of two blocks each, order 0: 4 pages
    assert p.free_pages("ReserveTHP") == 4 + (2 + 6) * 512 + (3 + 10) * 1024
    assert p.free_pages("ReserveTHP", min_order=9) == (2 + 6) * 512 + (3 + 10) * 1024


def test_reserve_blocks_sum_all_orders_at_least_pmd():
    blocks = reserve_thp_blocks(read_pagetypeinfo(PATCHED), 2 << 20, page_size=4096)
    assert blocks == ReserveThpBlocks(pageblocks=64, hpages=64, free_hpages=8 + 2 * 13)
    assert blocks.resident_hpages == 30


def test_unfixed_kernel_shows_converted_block():
    blocks = reserve_thp_blocks(read_pagetypeinfo(FIXTURES / "patched-unfixed"), 2 << 20, 4096)
    assert (blocks.pageblocks, blocks.free_hpages, blocks.resident_hpages) == (65, 0, 65)


def test_capped_counts_are_kept():
    """The kernel stops counting a free list at 100000 and prints '>100000'."""
    text = (PATCHED / "proc/pagetypeinfo").read_text()
    capped = text.replace("Movable   5121 ", "Movable >100000 ")
    assert capped != text
    p = parse_pagetypeinfo("/proc/pagetypeinfo", capped)
    assert p.problems == ()
    normal = next(f for f in p.free if f.zone == "Normal" and f.migratetype == "Movable")
    assert normal.counts[:2] == (100000, 2210)


def test_unknown_column_and_bad_row(tmp_path):
    p = read_pagetypeinfo(tree(tmp_path, "pagetypeinfo-unknown-column"))
    assert p.migratetypes == (*PATCHED_TYPES, "FutureType")
    assert p.pageblocks("FutureType") == 6
    assert p.pageblocks("ReserveTHP") == 64
    assert len(p.problems) == 1
    assert p.problems[0].endswith(
        "proc/pagetypeinfo: line 14: expected 11 free counts: "
        "'Node    0, zone    DMA32, type  Reclaimable      3      1      0'"
    )
    assert not any(f.zone == "DMA32" and f.migratetype == "Reclaimable" for f in p.free)


def test_truncated_keeps_what_was_read(tmp_path):
    p = read_pagetypeinfo(tree(tmp_path, "pagetypeinfo-truncated"))
    assert [m.split(": ", 1)[1] for m in p.problems] == [
        "line 24: truncated (no newline), ignored",
        "no 'Number of blocks type' table",
    ]
    assert p.blocks == ()
    assert len(p.free) == 3 * 7 - 1 - 1  # the cut line and the line never written


@pytest.mark.parametrize(
    "case, reason",
    [
        ("pagetypeinfo-garbage-header", "line 1: expected a decimal number, got 'nine'"),
        ("pagetypeinfo-empty", "proc/pagetypeinfo: empty file"),
    ],
)
def test_unusable_file(tmp_path, case, reason):
    with pytest.raises(KernelFileError, match=reason):
        read_pagetypeinfo(tree(tmp_path, case))


def test_type():
    assert isinstance(read_pagetypeinfo(PATCHED), PageTypeInfo)
