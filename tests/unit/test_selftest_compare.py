"""doctor --selftest's row comparison: equal counts of one unit, or a bound the row names."""

from __future__ import annotations

import pytest

from thpwatch.probes.selftest import AT_LEAST, AT_MOST, EXACT, compare


def test_exact_rows_agree_only_on_equal_counts() -> None:
    assert compare(16, 16, EXACT) == (True, "")
    assert compare(1000, 1009, EXACT) == (True, "equal within 1 %")
    # the swap-in row: 8192 pages against 16 faults is no agreement
    agree, note = compare(8192, 16, EXACT)
    assert not agree and "differ" in note
    assert compare(8, 16, EXACT)[0] is False
    assert compare(0, 1, EXACT)[0] is False  # 1 % of nothing is nothing


def test_bounds_name_themselves() -> None:
    assert compare(16, 17, AT_LEAST) == (True, "bound: thpwatch >= kernel")  # 6.1 split calls
    assert compare(16, 15, AT_LEAST) == (False, "outside the bound thpwatch >= kernel")
    assert compare(100, 90, AT_MOST) == (True, "bound: thpwatch <= kernel")  # readahead
    assert compare(100, 101, AT_MOST)[0] is False
    with pytest.raises(ValueError, match="unknown self-test bound"):
        compare(1, 1, "both saw activity")
