"""CPU time and memory of a process, from /proc/<pid>/stat and /proc/<pid>/status."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, proc: Path = Path("/proc")) -> float:
    """User + system CPU seconds the process has used (all its threads; not its children)."""
    stat = (proc / str(pid) / "stat").read_text()
    # comm may contain spaces and parentheses: fields start after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / TICK


FIELDS = ("VmRSS", "VmHWM", "RssAnon", "RssFile")


@dataclass(frozen=True)
class Memory:
    rss_bytes: int  # VmRSS: resident now
    hwm_bytes: int  # VmHWM: peak resident
    anon_bytes: int  # RssAnon: the process's own memory
    file_bytes: int  # RssFile: mapped files (shared libraries: libLLVM, libclang for bcc)


def memory(pid: int, proc: Path = Path("/proc")) -> Memory:
    values: dict[str, int] = {}
    for line in (proc / str(pid) / "status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in FIELDS:
            number, unit = rest.split()
            if unit != "kB":
                raise ValueError(f"/proc/{pid}/status: {key} in {unit!r}, expected kB")
            values[key] = int(number) * 1024
    return Memory(*(values[k] for k in FIELDS))
