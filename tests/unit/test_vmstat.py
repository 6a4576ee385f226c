from __future__ import annotations

import pytest
from fixturetree import PATCHED, STOCK, tree

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.facts import is_gauge_stat
from thpwatch.kernel.vmstat import is_watched, read_vmstat


def test_patched_values():
    v = read_vmstat(PATCHED)
    assert v.problems == ()
    assert v.get("nr_anon_transparent_hugepages") == 592
    assert v.get("thp_fault_alloc") == 5031
    assert v.get("thp_split_pud") == 2
    assert v.get("pswpin") == 32768
    assert v.get("compact_stall") == 17


def test_stock_reads_every_line():
    text = (STOCK / "proc/vmstat").read_text()
    v = read_vmstat(STOCK)
    assert len(v.values) == len(text.splitlines())
    assert v.get("thp_split_pmd") == int(
        next(ln.split()[1] for ln in text.splitlines() if ln.startswith("thp_split_pmd "))
    )


def test_selection_and_kinds():
    assert (
        is_watched("thp_future_counter") and is_watched("compact_stall") and is_watched("pgfault")
    )
    assert not is_watched("nr_free_pages") and not is_watched("pgalloc_normal")
    assert is_gauge_stat("nr_anon_transparent_hugepages")
    assert not is_gauge_stat("thp_fault_alloc")


def test_garbage_lines_reported_rest_kept(tmp_path):
    v = read_vmstat(tree(tmp_path, "vmstat-garbage"))
    assert v.get("thp_fault_alloc") == 5031
    assert v.get("thp_future_counter") == 17
    assert v.get("pgfault") == 9812345
    assert v.get("thp_split_pmd") is None
    assert v.get("thp_swpout") is None  # last line cut short: not trusted
    assert [p.split(": ", 1)[1] for p in v.problems] == [
        "line 7: truncated (no newline), ignored",
        "line 3: cannot parse 'this line is garbage'",
        "line 4: cannot parse 'thp_split_pmd twelve'",
    ]
    assert all(p.startswith(str(tmp_path)) and "proc/vmstat" in p for p in v.problems)


def test_empty_file(tmp_path):
    with pytest.raises(KernelFileError, match="proc/vmstat: empty file"):
        read_vmstat(tree(tmp_path, "vmstat-empty"))
