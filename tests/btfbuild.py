"""Builds tiny BTF blobs by hand, for the BTF reader's tests and the fixture trees' vmlinux.

`python tests/btfbuild.py` rewrites tests/fixtures/{stock,patched}/sys/kernel/btf/vmlinux;
test_btf checks that the committed files are what this module builds.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

KIND = {"int": 1, "ptr": 2, "struct": 4, "typedef": 8, "const": 10, "func": 12, "proto": 13}


class BtfBuilder:
    def __init__(self) -> None:
        self.strings = bytearray(b"\0")
        self.types = bytearray()
        self.count = 0

    def _str(self, s: str) -> int:
        if not s:
            return 0
        off = len(self.strings)
        self.strings += s.encode() + b"\0"
        return off

    def _add(self, kind: str, name: str, vlen: int, ref: int, tail: bytes = b"") -> int:
        info = (KIND[kind] << 24) | vlen
        self.types += struct.pack("<III", self._str(name), info, ref) + tail
        self.count += 1
        return self.count

    def int(self, name: str, size: int, signed: bool = False) -> int:
        return self._add("int", name, 0, size, struct.pack("<I", (int(signed) << 24) | size * 8))

    def ptr(self, to: int) -> int:
        return self._add("ptr", "", 0, to)

    def const(self, to: int) -> int:
        return self._add("const", "", 0, to)

    def struct(self, name: str) -> int:
        return self._add("struct", name, 0, 0)  # members are not needed by the reader

    def typedef(self, name: str, to: int) -> int:
        return self._add("typedef", name, 0, to)

    def func(self, name: str, returns: int, params: list[tuple[str, int]]) -> int:
        tail = b"".join(struct.pack("<II", self._str(n), t) for n, t in params)
        proto = self._add("proto", "", len(params), returns, tail)
        return self._add("func", name, 1, proto)  # vlen 1 = global linkage

    def blob(self) -> bytes:
        header = struct.pack(
            "<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(self.types), len(self.types), len(self.strings)
        )
        return header + bytes(self.types) + bytes(self.strings)


def kernel_btf(patched: bool) -> bytes:
    """vmlinux BTF of a 6.12 kernel: stock, or carrying all four series (seeds 000-004)."""
    b = BtfBuilder()
    void_ptr = b.ptr(0)
    ulong = b.int("long unsigned int", 8)
    uint = b.int("unsigned int", 4)
    int_ = b.int("int", 4, signed=True)
    bool_ = b.int("_Bool", 1)
    bool_t = b.typedef("bool", bool_)
    vm_fault_t = b.typedef("vm_fault_t", uint)
    vma = b.ptr(b.struct("vm_area_struct"))
    vmf = b.ptr(b.struct("vm_fault"))
    folio = b.ptr(b.struct("folio"))
    pmd = b.ptr(b.typedef("pmd_t", b.struct("pmd_t")))
    regs = b.ptr(b.struct("pt_regs"))
    b.func(
        "handle_mm_fault",
        vm_fault_t,
        [("vma", vma), ("address", ulong), ("flags", uint), ("regs", regs)],
    )
    b.func("do_huge_pmd_anonymous_page", vm_fault_t, [("vmf", vmf)])
    split = [("vma", vma), ("address", ulong), ("pmd", pmd), ("freeze", bool_t), ("folio", folio)]
    if patched:
        pgtable_t = b.typedef("pgtable_t", b.ptr(b.struct("page")))
        split.append(("pgtable", pgtable_t))
        b.func("reserved_thp_charge", int_, [("nr_hpages", ulong)])
        b.func("reserved_thp_uncharge", 0, [("nr_hpages", ulong)])
        b.func("do_huge_pud_anonymous_page", vm_fault_t, [("vmf", vmf)])
        b.func("do_huge_pmd_swap_page", vm_fault_t, [("vmf", vmf)])
    b.func("split_huge_pmd_locked", 0, split)
    b.func("kfree", 0, [("objp", b.const(void_ptr))])
    return b.blob()


FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_path(tree: str) -> Path:
    return FIXTURES / tree / "sys/kernel/btf/vmlinux"


def main() -> int:
    for tree, patched in (("stock", False), ("patched", True)):
        path = fixture_path(tree)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(kernel_btf(patched))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
