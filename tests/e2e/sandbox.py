"""Run a command inside the parts of thpwatch.service's sandbox that work without systemd.

    python sandbox.py UNIT -- COMMAND ARGS...

Applies, as systemd would for the unit file UNIT: SystemCallFilter= (an allow-list expanded with
`systemd-analyze syscall-filter`, refused calls failing with SystemCallErrorNumber=), and
MemoryDenyWriteExecute= (as the kernel's prctl PR_SET_MDWE), then execs COMMAND. Capabilities
are left to setpriv. PID 1 here is not systemd, so this is how the unit's filters get tested.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import subprocess
import sys
from pathlib import Path

PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def unit_settings(unit: Path) -> dict[str, str]:
    settings = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


def expand(names: list[str], seen: set[str] | None = None) -> set[str]:
    """System call names of a SystemCallFilter= list, groups (@name) expanded recursively."""
    seen = seen if seen is not None else set()
    calls: set[str] = set()
    for name in names:
        if not name.startswith("@"):
            calls.add(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        listing = subprocess.run(
            ["systemd-analyze", "syscall-filter", name], capture_output=True, text=True, check=True
        ).stdout
        members = [
            ln.strip()
            for ln in listing.splitlines()[1:]
            if ln.strip() and not ln.strip().startswith("#")
        ]
        calls |= expand(members, seen)
    return calls


def apply_syscall_filter(allowed: set[str], refused_errno: int) -> None:
    import seccomp  # Debian's python3-seccomp (libseccomp)

    flt = seccomp.SyscallFilter(defaction=seccomp.ERRNO(refused_errno))
    for name in sorted(allowed):
        # names that are no system call on this architecture (32-bit only ones) are skipped
        with contextlib.suppress(RuntimeError, ValueError):
            flt.add_rule(seccomp.ALLOW, name)
    flt.load()


def main() -> None:
    unit, sep, *command = sys.argv[1:]
    assert sep == "--" and command, __doc__
    settings = unit_settings(Path(unit))
    if settings.get("MemoryDenyWriteExecute") == "yes":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
            sys.exit(f"sandbox: prctl(PR_SET_MDWE): {os.strerror(ctypes.get_errno())}")
    if "SystemCallFilter" in settings:
        refused = getattr(errno, settings.get("SystemCallErrorNumber", "EPERM"))
        apply_syscall_filter(expand(settings["SystemCallFilter"].split()), refused)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
