from __future__ import annotations

import pytest
from fixturetree import PATCHED, STOCK

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import Mode, parse_decimal, parse_mode
from thpwatch.kernel.thp_settings import read_hpage_pmd_size, read_thp_settings


def test_stock_settings_exact():
    s = read_thp_settings(STOCK)
    assert s is not None
    assert s.enabled == Mode("madvise", ("always", "madvise", "never"))
    assert s.defrag == Mode("madvise", ("always", "defer", "defer+madvise", "madvise", "never"))
    assert s.shmem_enabled == Mode(
        "never", ("always", "within_size", "advise", "never", "deny", "force")
    )
    assert s.use_zero_page == 1
    assert s.hpage_pmd_size == 2097152
    k = dict(s.khugepaged)
    assert k["max_ptes_none"] == 511
    assert k["pages_to_scan"] == 4096
    assert k["scan_sleep_millisecs"] == 10000
    assert set(k) == {
        "alloc_sleep_millisecs",
        "defrag",
        "full_scans",
        "max_ptes_none",
        "max_ptes_shared",
        "max_ptes_swap",
        "pages_collapsed",
        "pages_to_scan",
        "scan_sleep_millisecs",
    }


def test_patched_khugepaged_counters():
    s = read_thp_settings(PATCHED)
    assert s is not None
    assert dict(s.khugepaged)["pages_collapsed"] == 9
    assert dict(s.khugepaged)["full_scans"] == 14
    assert read_hpage_pmd_size(PATCHED) == 2097152


def test_no_thp_dir_is_none(tmp_path):
    assert read_thp_settings(tmp_path) is None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty file"),
        ("12", "truncated"),
        ("twelve\n", "expected a decimal number, got 'twelve'"),
        ("-1\n", "expected a decimal number"),
    ],
)
def test_decimal_rejects(text, reason):
    with pytest.raises(KernelFileError, match=reason) as e:
        parse_decimal("/x/total_hpages", text)
    assert e.value.path == "/x/total_hpages"


@pytest.mark.parametrize("text", ["always madvise never\n", "[always] [never]\n", "", "[always]"])
def test_mode_needs_exactly_one_current(text):
    with pytest.raises(KernelFileError, match="one \\[current\\]"):
        parse_mode("/x/enabled", text)
