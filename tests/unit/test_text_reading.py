"""Reading kernel files defensively (thpwatch.kernel.text): every bound and refusal."""

from __future__ import annotations

import os
import time

import pytest

from thpwatch.kernel import text
from thpwatch.kernel.text import KernelFileError, label_text, parse_int, read_file, shown


@pytest.mark.parametrize(
    ("word", "signed", "reason"),
    [
        (str(2**70), False, "a 22-digit number: beyond 64 bits"),
        (str(2**64), False, "does not fit in 64 bits"),
        ("1" + "0" * 400, False, "a 401-digit number: beyond 64 bits"),
        ("-5", False, "expected a decimal number, got '-5'"),
        ("1.5", False, "expected a decimal number, got '1.5'"),
        ("", False, "got nothing"),
        ("١٢", False, "expected a decimal number"),  # Unicode digits are not the kernel's
        (str(-(2**63) - 1), True, "does not fit in 64 bits"),
    ],
)
def test_parse_int_refuses_what_no_kernel_prints(word, signed, reason):
    with pytest.raises(KernelFileError, match=reason) as e:
        parse_int("/proc/x: line 3", word, signed=signed)
    assert e.value.path == "/proc/x: line 3"
    assert len(str(e.value)) < 200  # the value is shown cut, never whole


def test_parse_int_takes_the_whole_64_bit_range():
    assert parse_int("x", str(2**64 - 1)) == 2**64 - 1
    assert parse_int("x", str(-(2**63)), signed=True) == -(2**63)


def test_a_fifo_is_refused_at_once_not_read(tmp_path):
    fifo = tmp_path / "vmstat"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(KernelFileError, match="not a regular file"):
        read_file(fifo)
    assert time.monotonic() - start < 1


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.symlink_to(p.parent / "gone"), "dangling symlink"),
        (lambda p: p.symlink_to(p.name), "symlink loop"),
        (lambda p: p.mkdir(), "a directory, not a file"),
        (lambda p: p.write_bytes(b"x" * 5000), "larger than 4096 bytes"),
    ],
)
def test_broken_files_are_errors_naming_the_file(tmp_path, make, reason):
    path = tmp_path / "meminfo"
    make(path)
    with pytest.raises(KernelFileError, match=reason) as e:
        read_file(path, limit=4096)
    assert e.value.path == str(path)


def test_a_missing_file_stays_file_not_found(tmp_path):
    """Only a path that does not exist at all may mean "the kernel lacks it"."""
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "nothing")


def test_a_read_over_its_deadline_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "kallsyms"
    path.write_bytes(b"x\n" * 200_000)
    clock = iter(range(0, 1000, 5))  # every chunk "takes" 5 s
    monkeypatch.setattr(text.time, "monotonic", lambda: next(clock))
    with pytest.raises(KernelFileError, match="reading took over 2 s"):
        read_file(path)


def test_label_text_escapes_bytes_and_caps_length():
    assert label_text(b"java\xff") == "java\\xff"
    assert label_text("cg-\udcff") == "cg-\\xff"  # os.fsdecode's surrogates
    assert label_text("café") == "café"
    long_a, long_b = label_text("a" * 10**6), label_text("a" * 10**6 + "b")
    assert len(long_a) == len(long_b) == text.MAX_LABEL_CHARS and long_a != long_b


def test_shown_cuts_values():
    assert shown("abc") == "'abc'"
    assert shown("x" * 10**6).endswith("... (1000000 chars)")
    assert len(shown("x" * 10**6)) < 200


def test_duplicate_lines_name_both_lines():
    from thpwatch.kernel.vmstat import parse_vmstat

    got = parse_vmstat("/proc/vmstat", "thp_fault_alloc 1\npgfault 2\nthp_fault_alloc 3\n")
    assert got.values == (("thp_fault_alloc", 1), ("pgfault", 2))
    assert got.problems == ("/proc/vmstat: line 3: thp_fault_alloc again (first on line 1)",)


def test_a_negative_counter_is_an_error_a_negative_gauge_is_not():
    from thpwatch.kernel.vmstat import parse_vmstat

    got = parse_vmstat("/proc/vmstat", "nr_anon_transparent_hugepages -1\nthp_split_pmd -1\n")
    assert got.values == (("nr_anon_transparent_hugepages", -1),)
    assert got.problems == ("/proc/vmstat: line 2: expected a decimal number, got '-1'",)
