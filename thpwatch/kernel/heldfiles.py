"""Sysfs files kept open and re-read from offset 0, and directory listings kept until the
directory changes: what a daemon reading the same ~200 small files on every scrape saves.

A sysfs attribute re-read with pread(fd, n, 0) calls its show() again, so the value is as fresh
as after open/read/close, for one system call instead of three (and no path walk). A file that
stops working (its kobject removed) is dropped and reopened once, which then raises what a
fresh open would (FileNotFoundError: the caller's "absent").

Directory listings are kept while the directory's signature (inode, mtime, link count) holds:
sysfs does not update a directory's mtime, but its link count is 2 + its subdirectories, so a
new or removed size directory (hugepages-<N>kB) changes it; on other file systems (fixture
trees) the mtime changes.
"""

from __future__ import annotations

import os
import resource
import threading
import weakref
from pathlib import Path

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import MAX_VALUE_BYTES, open_checked, read_required


def signature(directory: Path) -> tuple[int, int, int]:
    """What changes when entries are added or removed (see the module docstring)."""
    st = os.stat(directory)
    return st.st_ino, st.st_mtime_ns, st.st_nlink


class HeldFiles:
    """Open file descriptors by path; text() is read_required() without reopening.

    Holds one fd per file read, at most `limit` of them (default: a quarter of the process's
    descriptor limit, so the HTTP server, BPF and the other sources keep theirs); files past
    the limit are read with open/read/close as before. close() releases them all."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = default_limit() if limit is None else limit
        self._fds: dict[Path, int] = {}
        self._lock = threading.Lock()
        # Sources are rebuilt by some callers (tests, one-shot commands): their fds go with them.
        weakref.finalize(self, _close_all, self._fds)

    def __len__(self) -> int:
        return len(self._fds)

    def text(self, path: Path) -> str:
        with self._lock:
            fd = self._fds.get(path)
            if fd is not None:
                try:
                    return _decode(path, os.pread(fd, MAX_VALUE_BYTES + 1, 0))
                except OSError:
                    self._drop(path)  # gone or broken: a fresh open says which
            if len(self._fds) >= self.limit:
                return read_required(path)
            try:
                fd = open_checked(path)
            except FileNotFoundError:
                return read_required(path)  # raises as a fresh read of a missing file does
            self._fds[path] = fd
            return _decode(path, os.pread(fd, MAX_VALUE_BYTES + 1, 0))

    def _drop(self, path: Path) -> None:
        fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            for path in list(self._fds):
                self._drop(path)


def default_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1024 if soft == resource.RLIM_INFINITY else soft // 4


def _decode(path: Path, data: bytes) -> str:
    if len(data) > MAX_VALUE_BYTES:
        raise KernelFileError(path, f"longer than {MAX_VALUE_BYTES} bytes: not a sysfs value")
    return data.decode("ascii", errors="backslashreplace")


def _close_all(fds: dict[Path, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()
