"""Swap devices and a memory cgroup for the PMD-swap tests in the guest, each removed again:
zram (synchronous, non-rotational: PMD-order swap allocations), a loop device (asynchronous;
marked rotational: no PMD-order allocation, THPs split before swap-out), a child cgroup with
memory.max.

Loop devices are backed by another zram device, never by a file on tmpfs: the swap writes of a
tmpfs-backed loop device allocate tmpfs pages in the memcg being reclaimed and stall it
(shared/kernel/README.md, test-setup note)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ZRAM_CONTROL = Path("/sys/class/zram-control")


def run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"{' '.join(cmd)}: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


@contextlib.contextmanager
def zram(size_mb: int = 512) -> Iterator[str]:
    """A new zram device of size_mb (hot_add), reset and removed afterwards."""
    index = (ZRAM_CONTROL / "hot_add").read_text().strip()
    block = Path(f"/sys/block/zram{index}")
    try:
        (block / "disksize").write_text(f"{size_mb}M")
        yield f"/dev/zram{index}"
    finally:
        with contextlib.suppress(OSError):
            (block / "reset").write_text("1")
        with contextlib.suppress(OSError):
            (ZRAM_CONTROL / "hot_remove").write_text(index)


@contextlib.contextmanager
def swap_on(device: str) -> Iterator[str]:
    run("mkswap", device)
    run("swapon", device)
    try:
        yield device
    finally:
        subprocess.run(["swapoff", device], capture_output=True, check=False)


@contextlib.contextmanager
def loop_device(backing: str, rotational: bool) -> Iterator[str]:
    """A loop device over `backing` that says it is rotational (queue/rotational = 1) or not.
    Either way it is an asynchronous device (reads complete after the fault returns)."""
    loop = run("losetup", "--find", "--show", backing)
    try:
        Path(f"/sys/block/{os.path.basename(loop)}/queue/rotational").write_text(
            str(int(rotational))
        )
        yield loop
    finally:
        subprocess.run(["losetup", "--detach", loop], capture_output=True, check=False)


def _cgroup2_with_memory() -> Path | None:
    """A mounted cgroup2 hierarchy whose root offers the memory controller."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                root = Path(fields[1])
                with contextlib.suppress(OSError):
                    if "memory" in (root / "cgroup.controllers").read_text().split():
                        return root
    return None


@contextlib.contextmanager
def memcg(name: str) -> Iterator[Path]:
    """A child cgroup with the memory controller, removed when its processes are gone. Uses a
    mounted cgroup2 hierarchy that offers memory, else mounts one on a new directory (and
    unmounts it afterwards); never mounts over /sys/fs/cgroup."""
    root = _cgroup2_with_memory()
    mounted = None
    if root is None:
        mounted = Path(tempfile.mkdtemp(prefix="thpwatch-cgroup2-"))
        run("mount", "-t", "cgroup2", "none", str(mounted))
        root = mounted
    try:
        if "memory" not in (root / "cgroup.controllers").read_text().split():
            raise OSError(f"cgroup2 at {root} does not offer the memory controller (cgroup v1?)")
        (root / "cgroup.subtree_control").write_text("+memory")
        path = root / name
        path.mkdir()
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                path.rmdir()
    finally:
        if mounted is not None:
            subprocess.run(["umount", str(mounted)], capture_output=True, check=False)
            with contextlib.suppress(OSError):
                mounted.rmdir()
