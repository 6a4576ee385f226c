"""Cost of the host sources on this machine: feature detection (BTF + kallsyms), the process
scan with and without smaps, the cgroup walk, the kernel log (first and incremental read).

Run as root: .venv/bin/python bench/host_sources.py [repeats]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from thpwatch.features import detect
from thpwatch.kernel.btf import Btf
from thpwatch.sampler import run_source
from thpwatch.sources.cgroups import CgroupScan
from thpwatch.sources.kmsg import KmsgSource
from thpwatch.sources.procscan import ProcScan


def timed(label: str, fn: Callable[[], object], repeats: int) -> None:
    took = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        took.append(time.perf_counter() - start)
    took.sort()
    print(f"{label:28} median {took[len(took) // 2] * 1e3:8.1f} ms   min {took[0] * 1e3:8.1f} ms")


def main(repeats: int) -> None:
    processes = sum(1 for p in os.listdir("/proc") if p.isdigit())
    print(f"{processes} processes, kernel {os.uname().release}")
    timed("BTF load + index", lambda: Btf.load(Path("/sys/kernel/btf/vmlinux")), repeats)
    timed("detect (kallsyms + BTF)", lambda: detect(Path("/")), repeats)
    timed("procscan, smaps on", lambda: run_source(ProcScan(smaps="on")), repeats)
    timed("procscan, status only", lambda: run_source(ProcScan(smaps="off")), repeats)
    timed("cgroups", lambda: run_source(CgroupScan()), repeats)
    timed("kmsg, first read", lambda: run_source(KmsgSource()), repeats)
    kept = KmsgSource()
    run_source(kept)
    timed("kmsg, incremental", lambda: run_source(kept), repeats)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
