"""Temporary swap for workloads that swap THPs out and in (tests, bench/, `doctor --selftest`):
zram0 when it is free, else a swap file; always removed afterwards."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SWAP_LOCK = Path("/run/lock/thpwatch-swap.lock")
ZRAM = Path("/sys/block/zram0")


def active_swaps() -> list[str]:
    lines = Path("/proc/swaps").read_text().splitlines()[1:]
    return [line.split()[0] for line in lines if line.strip()]


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"{' '.join(cmd)}: {(done.stderr or done.stdout).strip()}")


@contextlib.contextmanager
def temporary_swap(size_mb: int = 512, prefer_zram: bool = True) -> Iterator[str]:
    """Swap for the duration of the block, always removed afterwards: zram0 when it is free,
    else a swap file. Serialised across processes by a lock file. Yields the device/file used
    (an already active swap is used as it is and left alone)."""
    SWAP_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(SWAP_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = active_swaps()
        if existing:
            yield existing[0]
            return
        if prefer_zram and _zram_free():
            yield from _zram_swap(size_mb)
        else:
            yield from _file_swap(size_mb)


def _zram_free() -> bool:
    try:
        return (ZRAM / "disksize").read_text().strip() == "0"
    except OSError:
        return False


def _zram_swap(size_mb: int) -> Iterator[str]:
    dev = "/dev/zram0"
    try:
        (ZRAM / "disksize").write_text(f"{size_mb}M")
        _run("mkswap", dev)
        _run("swapon", dev)
        yield dev
    finally:
        subprocess.run(["swapoff", dev], capture_output=True)
        with contextlib.suppress(OSError):
            (ZRAM / "reset").write_text("1")


def _file_swap(size_mb: int) -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="thpwatch-swap-", dir="/var/tmp")
    try:
        os.posix_fallocate(fd, 0, size_mb << 20)
        os.fchmod(fd, 0o600)
        os.close(fd)
        fd = -1
        _run("mkswap", path)
        _run("swapon", path)
        yield path
    finally:
        if fd >= 0:
            os.close(fd)
        subprocess.run(["swapoff", path], capture_output=True)
        with contextlib.suppress(OSError):
            os.unlink(path)
