"""BPF run-time statistics: how long each program ran and how often.

The kernel counts run_time_ns / run_cnt per program only while statistics are enabled. They are
enabled with BPF_ENABLE_STATS, whose file descriptor keeps them on while it is open: the kernel
turns them off again when it is closed, even if this process dies (the state the
kernel.bpf_stats_enabled sysctl shows is restored without our help).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

SYS_BPF = 321  # x86_64
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0
SYSCTL = Path("/proc/sys/kernel/bpf_stats_enabled")

_libc = ctypes.CDLL(None, use_errno=True)


class StatsUnavailable(Exception):
    pass


@contextlib.contextmanager
def stats_enabled() -> Iterator[None]:
    """BPF run-time statistics on for the duration of the block."""
    attr = (ctypes.c_uint32 * 16)(BPF_STATS_RUN_TIME)  # union bpf_attr { enable_stats.type }
    fd = _libc.syscall(SYS_BPF, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd < 0:
        err = ctypes.get_errno()
        raise StatsUnavailable(f"bpf(BPF_ENABLE_STATS): {os.strerror(err)}")
    try:
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class RunStats:
    run_time_ns: int
    run_cnt: int

    def __sub__(self, other: RunStats) -> RunStats:
        return RunStats(self.run_time_ns - other.run_time_ns, self.run_cnt - other.run_cnt)

    @property
    def ns_per_run(self) -> float | None:
        return self.run_time_ns / self.run_cnt if self.run_cnt else None


def parse_fdinfo(text: str, where: str = "fdinfo") -> RunStats:
    """run_time_ns and run_cnt from a BPF program's /proc/<pid>/fdinfo/<fd>."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    try:
        return RunStats(int(fields["run_time_ns"]), int(fields["run_cnt"]))
    except KeyError as e:
        raise StatsUnavailable(f"{where}: no {e.args[0]} (kernel older than 5.1?)") from None
    except ValueError as e:
        raise StatsUnavailable(f"{where}: {e}") from None


def read_programs(fds: Mapping[str, int]) -> dict[str, RunStats]:
    """{program name: its statistics} for programs held by this process under those fds."""
    out = {}
    for name, fd in fds.items():
        path = Path(f"/proc/self/fdinfo/{fd}")
        out[name] = parse_fdinfo(path.read_text(), str(path))
    return out


def delta(after: Mapping[str, RunStats], before: Mapping[str, RunStats]) -> dict[str, RunStats]:
    return {name: after[name] - before[name] for name in after if name in before}
