"""Many idle processes and many memory cgroups for the scan benchmarks, always removed after."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")


@contextlib.contextmanager
def idle_processes(count: int) -> Iterator[list[int]]:
    """`count` sleeping processes (each its own small address space, like a real idle daemon);
    each is killed by its pid and reaped on exit."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            procs.append(subprocess.Popen(["sleep", "infinity"], stdin=subprocess.DEVNULL))
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def memory_cgroup_root() -> Path:
    """Where memory cgroups are made: the v1 memory controller if mounted, else cgroup v2."""
    if (CGROUP_V1_MEMORY / "memory.stat").exists():
        return CGROUP_V1_MEMORY
    return Path("/sys/fs/cgroup")


@contextlib.contextmanager
def memory_cgroups(count: int, parent: Path | None = None) -> Iterator[list[Path]]:
    """`count` empty memory cgroups under one bench-owned parent; removed on exit."""
    base = (parent or memory_cgroup_root()) / f"thpwatch-bench-{os.getpid()}"
    made: list[Path] = []
    base.mkdir()
    try:
        for i in range(count):
            d = base / f"cg{i:04d}"
            d.mkdir()
            made.append(d)
        yield made
    finally:
        for d in reversed(made):
            d.rmdir()
        base.rmdir()
