"""A small reader of BTF blobs (/sys/kernel/btf/vmlinux): function prototypes by name.

Only what feature detection needs: find a FUNC by name, follow it to its FUNC_PROTO, and
render the return type and each parameter's name and type as C would spell them. The format
is the kernel's (Documentation/bpf/btf.rst): a header, then a type section of variable-length
records whose ids start at 1 (0 is void), then a string section of NUL-terminated names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel.text import read_file

MAX_BTF_BYTES = 64 << 20  # vmlinux BTF is ~6 MiB
MAGIC = 0xEB9F
HEADER = struct.Struct("<HBBIIIII")  # magic, version, flags, hdr_len, type off/len, str off/len
TYPE = struct.Struct("<III")  # name_off, info, size|type

# Kinds (info bits 24..28) and the bytes that follow each record's 12-byte head.
KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM = 1, 2, 3, 4, 5, 6
KIND_FWD, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT = 7, 8, 9, 10, 11
KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC, KIND_FLOAT = 12, 13, 14, 15, 16
KIND_DECL_TAG, KIND_TYPE_TAG, KIND_ENUM64 = 17, 18, 19
_FIXED_TAIL = {KIND_INT: 4, KIND_ARRAY: 12, KIND_VAR: 4, KIND_DECL_TAG: 4}
_PER_MEMBER = {
    KIND_STRUCT: 12,
    KIND_UNION: 12,
    KIND_ENUM: 8,
    KIND_FUNC_PROTO: 8,
    KIND_DATASEC: 12,
    KIND_ENUM64: 12,
}
# Kinds whose size|type word is a type id (checked at load: a reference past the end is corrupt).
_REFERS = {KIND_PTR, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC}
_REFERS |= {KIND_FUNC_PROTO, KIND_VAR, KIND_TYPE_TAG, KIND_DECL_TAG}
_QUALIFIERS = {KIND_CONST: "const", KIND_VOLATILE: "volatile", KIND_RESTRICT: "restrict"}
_TAGGED = {KIND_STRUCT: "struct", KIND_UNION: "union", KIND_ENUM: "enum", KIND_ENUM64: "enum"}


class BtfError(Exception):
    """The blob is not BTF, or is truncated or inconsistent; says where."""


@dataclass(frozen=True)
class Param:
    name: str  # "" when BTF does not name it
    type: str  # C spelling: "pgtable_t", "struct vm_area_struct *"


@dataclass(frozen=True)
class FuncProto:
    name: str
    returns: str
    params: tuple[Param, ...]

    def __str__(self) -> str:
        args = ", ".join(_declare(p.type, p.name) for p in self.params) or "void"
        return f"{_declare(self.returns, self.name)}({args})"


def _declare(ctype: str, name: str) -> str:
    if not name:
        return ctype
    return f"{ctype}{name}" if ctype.endswith("*") else f"{ctype} {name}"


@dataclass(frozen=True)
class _Type:
    kind: int
    name_off: int
    vlen: int
    kind_flag: bool
    ref: int  # the size|type word
    offset: int  # of the record in the type section


class Btf:
    """Parsed BTF: types indexed by id, FUNC ids indexed by name."""

    def __init__(self, blob: bytes, origin: str = "<btf>") -> None:
        self.origin = origin
        if len(blob) < HEADER.size:
            raise BtfError(f"{origin}: {len(blob)} bytes, too short for a BTF header")
        magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = HEADER.unpack_from(
            blob
        )
        if magic != MAGIC:
            raise BtfError(f"{origin}: bad magic {magic:#06x} (want {MAGIC:#06x}, little-endian)")
        if version != 1:
            raise BtfError(f"{origin}: BTF version {version}, only version 1 is known")
        end = hdr_len + max(type_off + type_len, str_off + str_len)
        if end > len(blob):
            raise BtfError(f"{origin}: sections end at byte {end} but the blob has {len(blob)}")
        if end < len(blob):  # the kernel's own parser refuses that too
            raise BtfError(f"{origin}: {len(blob) - end} bytes after the last section")
        self._types_blob = blob[hdr_len + type_off : hdr_len + type_off + type_len]
        self._strings = blob[hdr_len + str_off : hdr_len + str_off + str_len]
        self._types: list[_Type | None] = [None]  # id 0 is void
        self._funcs: dict[str, list[int]] = {}
        self._index()

    @classmethod
    def load(cls, path: Path) -> Btf:
        return cls(read_file(path, MAX_BTF_BYTES), str(path))

    def _index(self) -> None:
        data, pos, unpack = self._types_blob, 0, TYPE.unpack_from
        while pos < len(data):
            if pos + TYPE.size > len(data):
                raise BtfError(f"{self.origin}: type record truncated at type offset {pos}")
            name_off, info, ref = unpack(data, pos)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            t = _Type(kind, name_off, vlen, bool(info >> 31), ref, pos)
            if kind in _FIXED_TAIL:
                size = _FIXED_TAIL[kind]
            elif kind in _PER_MEMBER:
                size = _PER_MEMBER[kind] * vlen
            elif kind <= KIND_ENUM64:
                size = 0
            else:
                raise BtfError(f"{self.origin}: unknown BTF kind {kind} at type offset {pos}")
            if kind == KIND_FUNC:
                self._funcs.setdefault(self._string(name_off), []).append(len(self._types))
            self._types.append(t)
            pos += TYPE.size + size
        if pos != len(data):
            raise BtfError(f"{self.origin}: last type record runs past the type section")
        count = len(self._types)
        for type_id, t in enumerate(self._types[1:], 1):
            assert t is not None
            if t.kind in _REFERS and t.ref >= count:
                raise BtfError(
                    f"{self.origin}: type {type_id}: type id {t.ref} does not exist "
                    f"(the blob has {count - 1} types)"
                )

    def _string(self, off: int) -> str:
        if off >= len(self._strings) and off:
            raise BtfError(f"{self.origin}: string offset {off} outside the string section")
        end = self._strings.find(b"\0", off)
        return self._strings[off : end if end >= 0 else None].decode("utf-8", "replace")

    def _type(self, type_id: int) -> _Type:
        if not 0 < type_id < len(self._types):
            raise BtfError(f"{self.origin}: type id {type_id} does not exist")
        t = self._types[type_id]
        assert t is not None
        return t

    def __len__(self) -> int:
        """Number of types (ids 1..len)."""
        return len(self._types) - 1

    def functions(self, name: str) -> list[FuncProto]:
        """Every FUNC named `name` (usually one) with its prototype; [] if there is none."""
        return [self._proto(name, self._type(fid).ref) for fid in self._funcs.get(name, [])]

    def _proto(self, name: str, proto_id: int) -> FuncProto:
        proto = self._type(proto_id)
        if proto.kind != KIND_FUNC_PROTO:
            raise BtfError(f"{self.origin}: FUNC {name} points at kind {proto.kind}, not a proto")
        params = []
        base = proto.offset + TYPE.size
        for i in range(proto.vlen):
            name_off, type_id = struct.unpack_from("<II", self._types_blob, base + 8 * i)
            if type_id == 0 and i == proto.vlen - 1:
                params.append(Param("", "..."))  # variadic
                continue
            params.append(Param(self._string(name_off), self.type_name(type_id)))
        return FuncProto(name, self.type_name(proto.ref), tuple(params))

    def type_name(self, type_id: int, depth: int = 0) -> str:
        """C spelling of a type: typedefs by their name, pointers with a trailing *."""
        if type_id == 0:
            return "void"
        if depth > 32:
            raise BtfError(f"{self.origin}: type chain through id {type_id} does not end")
        t = self._type(type_id)
        name = self._string(t.name_off)
        if t.kind in (KIND_INT, KIND_FLOAT, KIND_TYPEDEF):
            return name
        if t.kind == KIND_PTR:
            inner = self.type_name(t.ref, depth + 1)
            return f"{inner}*" if inner.endswith("*") else f"{inner} *"
        if t.kind in _QUALIFIERS:
            return f"{_QUALIFIERS[t.kind]} {self.type_name(t.ref, depth + 1)}"
        if t.kind == KIND_TYPE_TAG:
            return self.type_name(t.ref, depth + 1)
        if t.kind in _TAGGED:
            return f"{_TAGGED[t.kind]} {name or '(anon)'}"
        if t.kind == KIND_FWD:
            return f"{'union' if t.kind_flag else 'struct'} {name}"
        if t.kind == KIND_ARRAY:
            elem = struct.unpack_from("<I", self._types_blob, t.offset + TYPE.size)[0]
            return f"{self.type_name(elem, depth + 1)}[]"
        if t.kind == KIND_FUNC_PROTO:
            return "(function)"
        return name or f"(kind {t.kind})"
