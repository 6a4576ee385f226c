"""The C side of the probes and its Python side say the same.

Indexes and constants the BPF programs share with the decoder (fault kinds, split levels, stall
kinds, migration results, key fields, the histogram size) are written once, in Python, and
passed to the compiler as -D defines (probes/program.py c_defines). These tests hold the C to
that: every THPW_ constant it uses is defined in C or passed by the loader, none is both, every
one passed is used, every array map is as long as its enum; and every hash map's key struct has
the fields, in order and with the types, that its Python key (a NamedTuple) unpacks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thpwatch.probes.groups import GROUPS
from thpwatch.probes.maps import CounterArray, Counts, HistArray
from thpwatch.probes.program import c_defines

BPF = Path(__file__).resolve().parents[2] / "bpf"
# defines that say what this load has, not constants: passed per kernel, probe set and process
PER_LOAD = ("THPW_HAVE_", "THPW_NARGS_", "THPW_RET_INT_", "THPW_GROUP_")
PER_LOAD_NAMES = {"THPW_TGID", "THPW_FENTRY", "THPW_FUNCTION_PROBES"}
C_TYPES = {"u32": "I", "s32": "i", "u64": "Q", "s64": "q"}


def c_text() -> str:
    return "".join(p.read_text() for p in sorted(BPF.iterdir()) if p.is_file())


def used_constants(text: str) -> set[str]:
    return set(re.findall(r"\bTHPW_[A-Z0-9_]*[A-Z0-9]\b", text))


def c_defined(text: str) -> set[str]:
    """Names the C defines itself: #define NAME, and members of its enums."""
    found = set(re.findall(r"#define (THPW_\w+)", text))
    for body in re.findall(r"enum \w+ \{(.*?)\};", text, re.S):
        found |= set(re.findall(r"(THPW_\w+)", body))
    return found


def passed() -> set[str]:
    return {name.split("(")[0] for name in c_defines()}


def test_every_constant_the_c_uses_is_defined_in_c_or_passed_by_the_loader() -> None:
    text = c_text()
    undefined = {
        name
        for name in used_constants(text) - c_defined(text) - passed() - PER_LOAD_NAMES
        if not name.startswith(PER_LOAD)
    }
    assert not undefined, f"used in bpf/ but defined nowhere: {sorted(undefined)}"


def test_what_the_loader_passes_the_c_neither_defines_again_nor_ignores() -> None:
    text = c_text()
    assert not passed() & c_defined(text), "defined in bpf/ and passed by the loader"
    # an enum's count and members may go unused in C (the decoder names them); others must not
    enum_names = {n for g in GROUPS for e in g.enums for n in e.defines()}
    unused = passed() - used_constants(text) - enum_names
    assert not unused, f"passed to the compiler but unused in bpf/: {sorted(unused)}"


def _group_c(group_file: str) -> str:
    return (BPF / group_file).read_text() + (BPF / "thpwatch.h").read_text()


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_array_maps_are_as_long_as_their_enum(group) -> None:
    arrays = [m for m in group.maps if isinstance(m, CounterArray | HistArray)]
    for m in arrays:
        found = re.search(rf"BPF_PERCPU_ARRAY\({m.name}, [^,]+, (\w+)\);", _group_c(group.bpf_file))
        assert found is not None, f"map {m.name} not found"
        assert found[1] in {f"THPW_NR_{e.name}" for e in group.enums}, (m.name, found[1])


def c_key(text: str, map_name: str) -> list[tuple[str, str]]:
    """(C type, field) of a per-CPU hash map's key: a struct's fields, or one scalar."""
    found = re.search(rf"BPF_PERCPU_HASH\({map_name}, ([\w ]+), ", text)
    assert found is not None, f"map {map_name} not found"
    key = found[1]
    if not key.startswith("struct "):
        return [(key, "")]
    body = re.search(rf"{key} \{{(.*?)\}};", text, re.S)
    assert body is not None, f"{key} not found"
    return re.findall(r"^\s*(\w+) (\w+);", body[1], re.M)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_hash_keys_unpack_the_c_struct_field_by_field(group) -> None:
    for m in group.maps:
        if not isinstance(m, Counts):
            continue
        fields = c_key(_group_c(group.bpf_file), m.name)
        python_fields = m.key._fields  # type: ignore[attr-defined]
        if fields[0][1]:  # a struct: same field names in the same order
            assert [f for _, f in fields] == list(python_fields), m.name
        else:
            assert len(python_fields) == 1, m.name
        assert "=" + "".join(C_TYPES[t] for t, _ in fields) == m.layout, m.name


def test_a_constant_defined_on_both_sides_is_seen() -> None:
    text = "#define THPW_SPLIT_PMD 0\nu32 i = THPW_SPLIT_PMD;\n"
    assert c_defined(text) & passed() == {"THPW_SPLIT_PMD"}


def test_an_undefined_constant_is_seen() -> None:
    text = "u32 i = THPW_SPLIT_FOLLY;\n"
    assert used_constants(text) - c_defined(text) - passed() == {"THPW_SPLIT_FOLLY"}
