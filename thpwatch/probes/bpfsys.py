"""Reading BPF maps through the bpf() system call, by file descriptor: no bcc, no libbpf.

The daemon holds the map file descriptors the load helper handed it (probes/handoff.py) and
reads them here: every entry in one BPF_MAP_LOOKUP_BATCH call where the kernel has it (5.6+),
else BPF_MAP_GET_NEXT_KEY + BPF_MAP_LOOKUP_ELEM per key. Per-CPU maps return one value per
possible CPU, each padded to 8 bytes, as the kernel copies them out.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass
from pathlib import Path

# include/uapi/linux/bpf.h
BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_MAP_LOOKUP_BATCH = 24
PERCPU_TYPES = frozenset({5, 6, 10, 15})  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, CGROUP
ARRAY_TYPES = frozenset({2, 6})  # ARRAY, PERCPU_ARRAY
_COMMANDS = {
    BPF_MAP_LOOKUP_ELEM: "BPF_MAP_LOOKUP_ELEM",
    BPF_MAP_GET_NEXT_KEY: "BPF_MAP_GET_NEXT_KEY",
    BPF_OBJ_GET_INFO_BY_FD: "BPF_OBJ_GET_INFO_BY_FD",
    BPF_MAP_LOOKUP_BATCH: "BPF_MAP_LOOKUP_BATCH",
}
ENOTSUPP = 524  # the kernel-internal "not supported" some map types return for batch ops

_SYSCALL_NUMBERS = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class BpfError(OSError):
    """A bpf() call that failed: errno and which command on which map."""


def _nr() -> int:
    machine = platform.machine()
    if machine not in _SYSCALL_NUMBERS:
        raise BpfError(errno.ENOSYS, f"bpf() system call number unknown on {machine}")
    return _SYSCALL_NUMBERS[machine]


def bpf(cmd: int, attr: ctypes.Structure) -> int:
    """One bpf() call; raises BpfError with the errno."""
    ret = _libc.syscall(_nr(), cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if ret < 0:
        code = ctypes.get_errno()
        raise BpfError(code, f"bpf({_COMMANDS.get(cmd, cmd)}): {os.strerror(code)}")
    return int(ret)


class _InfoAttr(ctypes.Structure):
    _fields_ = [
        ("bpf_fd", ctypes.c_uint32),
        ("info_len", ctypes.c_uint32),
        ("info", ctypes.c_uint64),
    ]


class _MapInfo(ctypes.Structure):  # the leading fields of struct bpf_map_info
    _fields_ = [
        ("type", ctypes.c_uint32),
        ("id", ctypes.c_uint32),
        ("key_size", ctypes.c_uint32),
        ("value_size", ctypes.c_uint32),
        ("max_entries", ctypes.c_uint32),
        ("map_flags", ctypes.c_uint32),
        ("name", ctypes.c_char * 16),
    ]


class _ElemAttr(ctypes.Structure):
    _fields_ = [
        ("map_fd", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("key", ctypes.c_uint64),
        ("value", ctypes.c_uint64),  # next_key for GET_NEXT_KEY
        ("flags", ctypes.c_uint64),
    ]


class _BatchAttr(ctypes.Structure):
    _fields_ = [
        ("in_batch", ctypes.c_uint64),
        ("out_batch", ctypes.c_uint64),
        ("keys", ctypes.c_uint64),
        ("values", ctypes.c_uint64),
        ("count", ctypes.c_uint32),
        ("map_fd", ctypes.c_uint32),
        ("elem_flags", ctypes.c_uint64),
        ("flags", ctypes.c_uint64),
    ]


def possible_cpus(path: Path = Path("/sys/devices/system/cpu/possible")) -> int:
    """Number of possible CPUs ("0-3,8-11"): the slots of a per-CPU map value."""
    count = 0
    for part in path.read_text().strip().split(","):
        first, _, last = part.partition("-")
        count = max(count, int(last or first) + 1)
    return count


@dataclass(frozen=True)
class MapInfo:
    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    name: str


def map_info(fd: int) -> MapInfo:
    info = _MapInfo()
    attr = _InfoAttr(fd, ctypes.sizeof(info), ctypes.addressof(info))
    bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    name = info.name.decode("ascii", "replace")
    return MapInfo(info.type, info.id, info.key_size, info.value_size, info.max_entries, name)


class BpfMap:
    """A map held by file descriptor (not owned: whoever holds the fd closes it).

    entries() returns (key bytes, value bytes); a per-CPU value is `cpus` values of
    `value_stride` bytes each. Buffers are allocated once and reused on every read."""

    def __init__(self, fd: int, cpus: int | None = None) -> None:
        self.fd = fd
        self.info = map_info(fd)
        self.percpu = self.info.type in PERCPU_TYPES
        self.cpus = (cpus or possible_cpus()) if self.percpu else 1
        self.value_stride = (self.info.value_size + 7) & ~7 if self.percpu else self.info.value_size
        self.value_bytes = self.value_stride * self.cpus
        n = max(self.info.max_entries, 1)
        self._keys = ctypes.create_string_buffer(n * self.info.key_size)
        self._values = ctypes.create_string_buffer(n * self.value_bytes)
        token = max(self.info.key_size, 8)  # hash maps: a u32 bucket; arrays: a key
        self._in = ctypes.create_string_buffer(token)
        self._out = ctypes.create_string_buffer(token)
        self.batch: bool | None = None  # None until the kernel said whether it has batch ops

    def entries(self) -> list[tuple[bytes, bytes]]:
        if self.batch is not False:
            try:
                found = self._batch_entries()
                self.batch = True
                return found
            except BpfError as e:
                if self.batch or e.errno not in (errno.EINVAL, errno.ENOTSUP, ENOTSUPP):
                    raise
                self.batch = False
        return self._walk_entries()

    def _batch_entries(self) -> list[tuple[bytes, bytes]]:
        ks, vs = self.info.key_size, self.value_bytes
        capacity = max(self.info.max_entries, 1)
        found: list[tuple[bytes, bytes]] = []
        first = True
        while True:
            attr = _BatchAttr(
                in_batch=0 if first else ctypes.addressof(self._in),
                out_batch=ctypes.addressof(self._out),
                keys=ctypes.addressof(self._keys),
                values=ctypes.addressof(self._values),
                count=capacity,
                map_fd=self.fd,
            )
            done = False
            try:
                bpf(BPF_MAP_LOOKUP_BATCH, attr)
            except BpfError as e:
                if e.errno != errno.ENOENT:
                    raise
                done = True  # the last batch: attr.count holds what it returned
            keys, values = self._keys.raw, self._values.raw
            found += [
                (keys[i * ks : (i + 1) * ks], values[i * vs : (i + 1) * vs])
                for i in range(attr.count)
            ]
            if done or attr.count == 0:
                return found
            ctypes.memmove(self._in, self._out, len(self._out))
            first = False

    def _walk_entries(self) -> list[tuple[bytes, bytes]]:
        ks = self.info.key_size
        key = ctypes.create_string_buffer(ks)
        nxt = ctypes.create_string_buffer(ks)
        value = ctypes.create_string_buffer(self.value_bytes)
        found = []
        have_key = False
        while True:
            attr = _ElemAttr(
                map_fd=self.fd,
                key=ctypes.addressof(key) if have_key else 0,
                value=ctypes.addressof(nxt),
            )
            try:
                bpf(BPF_MAP_GET_NEXT_KEY, attr)
            except BpfError as e:
                if e.errno == errno.ENOENT:
                    return found
                raise
            ctypes.memmove(key, nxt, ks)
            have_key = True
            lookup = _ElemAttr(
                map_fd=self.fd, key=ctypes.addressof(key), value=ctypes.addressof(value)
            )
            try:
                bpf(BPF_MAP_LOOKUP_ELEM, lookup)
            except BpfError as e:
                if e.errno == errno.ENOENT:  # deleted (LRU eviction) between the two calls
                    continue
                raise
            found.append((key.raw, value.raw))
