"""What the in-guest tests need beyond thpwatch.workload: partial touches, munmap/mprotect/
mremap of part of a Region, the kernel's own numbers read directly (the tests' oracle), and a
child process that holds its memory while thpwatch looks at it."""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable
from typing import Any

from thpwatch.kernel.facts import (
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MADV_PAGEOUT,
    MADV_RESERVED_THP,
    PMD_ORDER,
    PUD_ORDER,
)
from thpwatch.workload import PAGE, Did, Region

PMD_SIZE = PAGE << PMD_ORDER
PUD_SIZE = PAGE << PUD_ORDER
PROT_READ = 1
MREMAP_MAYMOVE = 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.mremap.restype = ctypes.c_void_p
_libc.mremap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int)
_MAP_FAILED = ctypes.c_void_p(-1).value

__all__ = [
    "MADV_HUGEPAGE",
    "MADV_NOHUGEPAGE",
    "MADV_PAGEOUT",
    "MADV_RESERVED_THP",
    "PAGE",
    "Region",
]


def madvise(region: Region, advice: int, offset: int = 0, length: int | None = None) -> str:
    """madvise() part of a region: "ok" or the errno name."""
    return region.madvise(advice, Did("kernel-lane"), offset, length)


def touch(region: Region, offset: int = 0, length: int | None = None, step: int = PMD_SIZE) -> None:
    """Write one byte every `step` bytes of [offset, offset+length): a fault per huge page."""
    end = region.length if length is None else offset + length
    for off in range(offset, end, step):
        ctypes.memset(region.addr + off, 0x5A, 1)


def byte(region: Region, offset: int) -> int:
    return ctypes.c_ubyte.from_address(region.addr + offset).value


def _errno_of(ok: bool) -> int:
    return 0 if ok else ctypes.get_errno()


def munmap(region: Region, offset: int, length: int) -> int:
    return _errno_of(_libc.munmap(region.addr + offset, length) == 0)


def mprotect(region: Region, prot: int, offset: int, length: int) -> int:
    return _errno_of(_libc.mprotect(region.addr + offset, length, prot) == 0)


def mremap_grow(region: Region, new_length: int) -> int:
    """Grow the region's mapping (moving it if need be); 0 or the errno."""
    new = _libc.mremap(region.addr, region.length, new_length, MREMAP_MAYMOVE)
    return ctypes.get_errno() if new == _MAP_FAILED else 0


def read_int(path: str) -> int:
    with open(path) as f:
        return int(f.read().split()[0])


def vmstat(name: str) -> int:
    with open("/proc/vmstat") as f:
        for line in f:
            key, value = line.split()
            if key == name:
                return int(value)
    raise KeyError(f"/proc/vmstat has no {name}")


def mthp_stat(size: str, stat: str) -> int:
    return read_int(f"/sys/kernel/mm/transparent_hugepage/hugepages-{size}/stats/{stat}")


def write_sysfs(path: str, value: str) -> str:
    """Write a sysfs knob, returning its previous value (the bracketed one for choice files)."""
    with open(path) as f:
        old = f.read().strip()
    if "[" in old:
        old = old.split("[", 1)[1].split("]", 1)[0]
    with open(path, "w") as f:
        f.write(value)
    return old


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(f"/proc/{pid}/status has no {field}")


def set_comm(name: str) -> None:
    """prctl(PR_SET_NAME): the per-process metrics group by this name."""
    ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)


class Holder:
    """A child process that runs `setup` (mapping and touching memory), reports its result,
    and keeps the memory until released: per-process views need a live process to look at."""

    def __init__(self, comm: str, setup: Callable[[], dict[str, Any]]) -> None:
        to_child_r, self._to_child = os.pipe()
        from_child, to_parent = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._to_child)
            os.close(from_child)
            code = 0
            try:
                set_comm(comm)
                result = setup()
            except BaseException as exc:  # reported to the parent, which fails the test
                result, code = {"error": repr(exc)}, 1
            os.write(to_parent, json.dumps(result).encode() + b"\n")
            os.read(to_child_r, 1)  # until the parent closes its end
            os._exit(code)
        os.close(to_child_r)
        os.close(to_parent)
        with os.fdopen(from_child) as f:
            self.result: dict[str, Any] = json.loads(f.readline() or '{"error": "no result"}')
        assert "error" not in self.result, f"workload {comm} failed: {self.result['error']}"

    def release(self) -> int:
        os.close(self._to_child)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


RESERVED_THP = "/sys/kernel/mm/reserved_thp"


def reserved_pool() -> dict[str, int]:
    """total/free/used hpages as the kernel's sysfs files say."""
    return {k: read_int(f"{RESERVED_THP}/{k}_hpages") for k in ("total", "free", "used")}


def pagetypeinfo() -> list[str]:
    with open("/proc/pagetypeinfo") as f:
        return f.read().splitlines()


def free_lists(lines: list[str], migratetype: str) -> tuple[int, list[list[int]]]:
    """(pageblock order, free block counts by order of each zone's `migratetype` free list) from
    the lines of /proc/pagetypeinfo: the tests' own oracle."""
    rows = [ln.split() for ln in lines if "type" in ln.split()]
    counts = [[int(n) for n in w[-11:]] for w in rows if w[-12:-11] == [migratetype]]
    return int(lines[0].split()[-1]), counts


def reserve_thp_blocks() -> tuple[int, int]:
    """(ReserveTHP pageblocks, free ReserveTHP memory in pageblocks) from /proc/pagetypeinfo:
    the test's own oracle, summed over zones and, for free memory, over every order."""
    lines = pagetypeinfo()
    block_order, free = free_lists(lines, "ReserveTHP")
    free_pages = sum(n << order for row in free for order, n in enumerate(row))
    blocks = 0
    header: list[str] = []
    for line in lines:
        words = line.split()
        if line.startswith("Number of blocks type"):
            header = words[4:]
        elif header and line.startswith("Node") and "zone" in words:
            blocks += int(words[4 + header.index("ReserveTHP")])
    return blocks, free_pages >> block_order


def reserve(hpages: int, touched: int = 0) -> dict[str, int]:
    """In the calling process: reserve `hpages` PMD THPs and fault the first `touched`."""
    region = Region(hpages * PMD_SIZE, PMD_SIZE)
    result = madvise(region, MADV_RESERVED_THP)
    if result != "ok":
        raise RuntimeError(f"madvise(MADV_RESERVED_THP) of {hpages} hpages: {result}")
    touch(region, 0, touched * PMD_SIZE)
    return {"addr": region.addr}
