"""What one read of /proc/pagetypeinfo costs the kernel, against how many free pages it walks.

The kernel walks every free list of every zone under the zone's lock (counting at most 100,000
entries per list), so the cost follows the number of free chunks, not RAM as such. Measured on
this host (no VM): at the host's own state, then with `fragment` MiB of scattered free 4 KiB
pages added (an anonymous mapping written whole, then every other page given back with
MADV_DONTNEED: free pages whose buddies are in use cannot merge), then with twice that
(small: the machine is shared and has a few GiB free).
System CPU per read from getrusage (the kernel's time in the read), wall from perf_counter.
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import resource
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thpwatch.kernel.pagetypeinfo import parse_pagetypeinfo

PAGE = 4096
MADV_DONTNEED = 4
MADV_NOHUGEPAGE = 15
PATH = Path("/proc/pagetypeinfo")


def one_read() -> tuple[float, float, str]:
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    text = PATH.read_text()
    r1, w1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    return r1.ru_stime - r0.ru_stime, w1 - w0, text


def free_state(text: str) -> dict[str, int]:
    info = parse_pagetypeinfo(PATH, text)
    chunks = sum(sum(f.counts) for f in info.free)
    pages = sum(c << o for f in info.free for o, c in zip(info.orders, f.counts, strict=True))
    capped = sum(1 for f in info.free for c in f.counts if c >= 100000)
    order0 = sum(f.counts[0] for f in info.free)
    return {
        "free_chunks": chunks,
        "free_pages": pages,
        "order0_chunks": order0,
        "capped_lists": capped,
    }


def measure(reads: int) -> dict[str, Any]:
    sys_ms, wall_ms = [], []
    text = ""
    for _ in range(reads):
        s, w, text = one_read()
        sys_ms.append(s * 1e3)
        wall_ms.append(w * 1e3)
    return {
        "reads": reads,
        "sys_ms_mean": statistics.fmean(sys_ms),  # getrusage ticks are coarse: mean, not median
        "wall_ms_median": statistics.median(wall_ms),
        "wall_ms_p90": statistics.quantiles(wall_ms, n=10)[-1],
        **free_state(text),
    }


@contextlib.contextmanager
def fragmented(mib: int) -> Iterator[None]:
    size = mib << 20
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    libc = ctypes.CDLL(None, use_errno=True)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(region))
    try:
        libc.madvise(ctypes.c_void_p(addr), ctypes.c_size_t(size), MADV_NOHUGEPAGE)
        for off in range(0, size, PAGE):
            region[off] = 1
        for off in range(0, size, 2 * PAGE):
            libc.madvise(ctypes.c_void_p(addr + off), ctypes.c_size_t(PAGE), MADV_DONTNEED)
        yield
    finally:
        del addr
        region.close()


def run(reads: int = 200, fragment_mib: int = 256) -> dict[str, Any]:
    meminfo = dict(
        (ln.split(":")[0], int(ln.split()[1]) * 1024)
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.split()[-1] == "kB"
    )
    states = [{"fragmented_mib": 0, **measure(reads)}]
    for mib in (fragment_mib, 2 * fragment_mib):
        with fragmented(mib):
            states.append({"fragmented_mib": mib, **measure(reads)})
    return {"mem_total_bytes": meminfo["MemTotal"], "states": states}
