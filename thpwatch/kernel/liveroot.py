"""Whether a root directory shows the running kernel, or holds copies of its files.

`--root /host` in a container that mounts the host's /proc and /sys under /host (node_exporter's
--path.procfs / --path.sysfs pattern) is as live as `/`: its files are the running kernel's, so
BPF probes (which watch that kernel whatever the file system view) belong with them. A fixture
tree of plain files is not: probes there would count another kernel's events than the files
describe. Live means: <root>/proc is a procfs and <root>/sys a sysfs, and both are this
kernel's (their release is the one uname reports)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

from thpwatch.kernel import facts

PROC_SUPER_MAGIC = 0x9FA0  # include/uapi/linux/magic.h
SYSFS_MAGIC = 0x62656572
_STATFS_BYTES = 256  # struct statfs is 120 bytes on 64-bit Linux; f_type is its first long

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.statfs.argtypes = (ctypes.c_char_p, ctypes.c_void_p)


def filesystem_magic(path: Path) -> int | None:
    """statfs(2) f_type of the file system holding path; None if it cannot be asked."""
    buf = ctypes.create_string_buffer(_STATFS_BYTES)
    if _libc.statfs(os.fsencode(path), buf) != 0:
        return None
    return ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF


def is_live(root: Path) -> bool:
    try:
        if root.resolve() == Path("/"):
            return True
    except OSError:
        return False
    if filesystem_magic(root / "proc") != PROC_SUPER_MAGIC:
        return False
    if filesystem_magic(root / "sys") != SYSFS_MAGIC:
        return False
    try:
        release = (root / facts.PROC_OSRELEASE).read_text().strip()
    except OSError:
        return False
    return release == os.uname().release
