from __future__ import annotations

import pytest
from fixturetree import PATCHED, STOCK

from thpwatch.kernel.cmdline import (
    ReservedThpRequest,
    boot_params,
    memparse,
    parse_cmdline,
    parse_nr,
    read_cmdline,
)

PMD = 2 << 20


def test_patched_request():
    assert read_cmdline(PATCHED, PMD) == ReservedThpRequest("2M", True, "64", True, 64)


def test_stock_has_no_request():
    r = read_cmdline(STOCK, PMD)
    assert not r.given and not r.reserves and r.requested_hpages == 0


@pytest.mark.parametrize(
    "text, value",
    [
        ("2M", PMD),
        ("2m", PMD),
        ("2048K", PMD),
        ("2097152", PMD),
        ("0x200000", PMD),
        ("010000000", PMD),  # octal, as simple_strtoull(base 0) reads a leading 0
        ("2MB", PMD),  # memparse ignores what follows the suffix
        ("1G", 1 << 30),
        ("abc", 0),
        ("", 0),
        ("0x", 0),
    ],
)
def test_memparse(text, value):
    assert memparse(text) == value


@pytest.mark.parametrize(
    "text, value", [("64", 64), ("0", 0), (" 7", 7), ("12x", None), ("", None), ("-1", None),
                    ("+1", None), ("0x10", None), ("2M", None)]
)  # fmt: skip
def test_nr_like_sscanf_lu_with_nothing_after(text, value):
    assert parse_nr(text) == value


def test_kernel_rejections_as_seen_in_the_vm():
    """thp_reserved_size=1G and thp_reserved_nr=12x both leave the pool at 0 (kernel README)."""
    r = parse_cmdline("ro thp_reserved_size=1G thp_reserved_nr=12x", PMD)
    assert r == ReservedThpRequest("1G", False, "12x", False, 0)
    assert not r.reserves
    r = parse_cmdline("thp_reserved_size=1G thp_reserved_nr=16", PMD)
    assert r.requested_hpages == 16 and not r.reserves
    assert parse_cmdline("thp_reserved_nr=16", PMD).reserves  # size defaults to the PMD size


def test_tokenizer_follows_next_arg():
    assert boot_params('a b=1 c="x y" thp-reserved-nr=5 "q=z" -- thp_reserved_nr=7') == [
        ("a", None),
        ("b", "1"),
        ("c", "x y"),
        ("thp_reserved_nr", "5"),
        ("q", "z"),
    ]


def test_last_occurrence_wins_and_after_dashes_ignored():
    r = parse_cmdline("thp_reserved_nr=8 thp_reserved_nr=32 -- thp_reserved_nr=99", PMD)
    assert r.requested_hpages == 32
    assert parse_cmdline("thp_reserved_nr", PMD).nr_valid is False
