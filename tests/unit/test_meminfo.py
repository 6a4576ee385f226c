from __future__ import annotations

from fixturetree import PATCHED, STOCK, tree

from thpwatch.kernel.meminfo import read_meminfo


def test_kb_fields_in_bytes_counts_as_is():
    m = read_meminfo(PATCHED)
    assert m.problems == ()
    assert m.get("AnonHugePages") == 1212416 * 1024
    assert m.get("PageTables") == 6144 * 1024
    assert m.get("Hugepagesize") == 2048 * 1024
    assert m.get("HugePages_Total") == 0
    assert m.get("Active(anon)") is not None


def test_stock_every_line():
    text = (STOCK / "proc/meminfo").read_text()
    assert len(read_meminfo(STOCK).values) == len(text.splitlines())


def test_garbage(tmp_path):
    m = read_meminfo(tree(tmp_path, "meminfo-garbage"))
    assert m.get("AnonHugePages") == 1212416 * 1024
    assert m.get("HugePages_Total") == 0
    assert m.get("PageTables") is None
    assert [p.split("meminfo: ")[1] for p in m.problems] == [
        "line 6: truncated (no newline), ignored",
        "line 3: cannot parse 'PageTables: lots kB'",
    ]
