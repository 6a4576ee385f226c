"""The BTF reader: hand-built blobs (fixtures), malformed blobs, and this machine's vmlinux."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from btfbuild import BtfBuilder, fixture_path, kernel_btf
from conftest import require

from thpwatch.kernel.btf import Btf, BtfError, Param

VMLINUX = Path("/sys/kernel/btf/vmlinux")


@pytest.mark.parametrize("tree,patched", [("stock", False), ("patched", True)])
def test_fixture_blobs_are_what_the_builder_makes(tree, patched):
    assert fixture_path(tree).read_bytes() == kernel_btf(patched)


def test_patched_split_huge_pmd_locked_has_pgtable():
    btf = Btf.load(fixture_path("patched"))
    (proto,) = btf.functions("split_huge_pmd_locked")
    assert proto.returns == "void"
    assert proto.params[-1] == Param("pgtable", "pgtable_t")
    assert [p.name for p in proto.params] == [
        "vma", "address", "pmd", "freeze", "folio", "pgtable"
    ]  # fmt: skip
    assert proto.params[0].type == "struct vm_area_struct *"
    assert str(proto).endswith("struct folio *folio, pgtable_t pgtable)")


def test_stock_fixture_has_no_series_functions():
    btf = Btf.load(fixture_path("stock"))
    assert btf.functions("reserved_thp_charge") == []
    assert btf.functions("do_huge_pud_anonymous_page") == []
    (proto,) = btf.functions("split_huge_pmd_locked")
    assert len(proto.params) == 5 and all(p.type != "pgtable_t" for p in proto.params)


def test_type_spelling():
    b = BtfBuilder()
    char = b.int("char", 1, signed=True)
    cptr = b.ptr(b.const(char))
    pp = b.ptr(b.ptr(b.struct("page")))
    b.func("f", cptr, [("s", cptr), ("pp", pp), ("", 0)])
    (proto,) = Btf(b.blob()).functions("f")
    assert proto.returns == "const char *"
    assert proto.params[1].type == "struct page **"
    assert proto.params[2].type == "..."  # trailing void parameter = variadic
    assert str(proto) == "const char *f(const char *s, struct page **pp, ...)"


def _blob_with(header_change=None, body_cut=0):
    blob = bytearray(kernel_btf(False))
    if header_change:
        offset, fmt, value = header_change
        struct.pack_into(fmt, blob, offset, value)
    return bytes(blob[: len(blob) - body_cut])


@pytest.mark.parametrize(
    "blob,message",
    [
        (b"", "too short"),
        (_blob_with((0, "<H", 0x9FEB)), "bad magic"),
        (_blob_with((2, "<B", 2)), "version 2"),
        (_blob_with(body_cut=10), "sections end at byte"),
        (_blob_with((12, "<I", 26)), "runs past the type section"),
        (_blob_with((12, "<I", 30)), "type record truncated"),
    ],
)
def test_malformed_blobs_say_what_is_wrong(blob, message):
    with pytest.raises(BtfError, match=message) as e:
        Btf(blob, "fixture.btf")
    assert "fixture.btf" in str(e.value)


def test_unknown_kind_is_named():
    b = BtfBuilder()
    b.types += struct.pack("<III", 0, 31 << 24, 0)
    with pytest.raises(BtfError, match="unknown BTF kind 31"):
        Btf(b.blob())


def test_dangling_type_id_is_an_error_not_a_crash():
    b = BtfBuilder()
    b.func("f", 999, [])
    with pytest.raises(BtfError, match="type id 999 does not exist"):
        Btf(b.blob()).functions("f")


@pytest.mark.live
def test_this_machines_vmlinux():
    require(VMLINUX.exists(), "needs /sys/kernel/btf/vmlinux")
    btf = Btf.load(VMLINUX)
    assert len(btf) > 10_000
    (fault,) = btf.functions("handle_mm_fault")
    assert fault.returns == "vm_fault_t"
    assert [p.name for p in fault.params] == ["vma", "address", "flags", "regs"]
    (split,) = btf.functions("split_huge_pmd_locked")
    # 6.18 without the lazy-PTE series: (vma, address, pmd, freeze), no pgtable_t
    assert [p.name for p in split.params][:4] == ["vma", "address", "pmd", "freeze"]
    assert split.params[0].type == "struct vm_area_struct *"
    assert all(p.type != "pgtable_t" for p in split.params)
