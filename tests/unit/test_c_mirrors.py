"""The C side of the probes and its Python mirror say the same: every index the BPF programs
write (#define or enum in bpf/) is named, in the same order, by the tuple the decoder reads it
with, and every array map is as long as that tuple. Until the C values come from Python as -D
defines, this is what keeps the two sides from drifting apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thpwatch.probes import decode, metrics

BPF = Path(__file__).resolve().parents[2] / "bpf"


def defines(text: str, prefix: str) -> list[str]:
    """Names after `prefix` of `#define PREFIXNAME n`, lower-cased, in value order; the values
    must be 0..n-1."""
    found = {int(v): n.lower() for n, v in re.findall(rf"#define {prefix}(\w+) (\d+)", text)}
    assert sorted(found) == list(range(len(found))), f"{prefix}*: not 0..n-1: {found}"
    return [found[i] for i in range(len(found))]


def enum_members(text: str, enum: str, prefix: str) -> list[str]:
    """Members of `enum NAME {…}` after `prefix`, lower-cased, in order (none has a value)."""
    body = re.search(rf"enum {enum} \{{(.*?)\}};", text, re.S)
    assert body is not None, f"enum {enum} not found"
    return [m.removeprefix(prefix).lower() for m in re.findall(r"(\w+),", body[1])]


def array_len(text: str, name: str) -> str:
    m = re.search(rf"BPF_PERCPU_ARRAY\({name}, [^,]+, (\w+)\);", text)
    assert m is not None, f"map {name} not found"
    return m[1]


def read(name: str) -> str:
    return (BPF / name).read_text()


def test_histogram_slots():
    (slots,) = re.findall(r"#define THPW_HIST_SLOTS (\d+)", read("thpwatch.h"))
    assert int(slots) == decode.HIST_SLOTS


def test_fault_kinds():
    header = read("thpwatch.h")
    members = enum_members(header, "thpw_fault", "THPW_FAULT_")
    assert members == [*metrics.FAULTS, "thpw_nr_faults"]
    assert array_len(header, "fault_hist") == "THPW_NR_FAULTS"


def test_split_levels():
    text = read("splits.bpf.c")
    assert defines(text, "SPLIT_") == list(metrics.SPLITS)
    assert int(array_len(text, "split_hist")) == len(metrics.SPLITS)


def test_stall_kinds():
    text = read("stalls.bpf.c")
    names = defines(text, "STALL_")
    assert len(names) == len(decode.STALLS) == int(array_len(text, "stall_hist"))
    for c_name, py_name in zip(names, decode.STALLS, strict=True):
        assert py_name.endswith(c_name), (c_name, py_name)  # reclaim ~ direct_reclaim


def test_migration_results():
    text = read("khugepaged.bpf.c")
    assert defines(text, "MIGRATE_THP_") == list(metrics.MIGRATION_RESULTS)
    assert int(array_len(text, "migrate_counts")) == len(metrics.MIGRATION_RESULTS)


@pytest.mark.parametrize(
    "text",
    [
        "#define SPLIT_PMD 0\n#define SPLIT_PUD 2\n",  # a gap
        "#define SPLIT_PMD 1\n",  # not from 0
    ],
)
def test_defines_refuses_indexes_that_are_not_0_to_n(text):
    with pytest.raises(AssertionError):
        defines(text, "SPLIT_")


def test_a_reordered_mirror_is_seen():
    assert defines("#define SPLIT_PUD 0\n#define SPLIT_PMD 1\n", "SPLIT_") != list(metrics.SPLITS)
