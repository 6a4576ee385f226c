"""node_exporter textfile-collector output: one .prom file, replaced atomically and safely.

The file is written to a fresh temporary name in the same directory (node_exporter only reads
*.prom) and renamed over the old one, so node_exporter never sees half a file. The directory may
be writable by others (a shared textfile directory): the temporary file is created with
O_EXCL|O_NOFOLLOW under an unpredictable name, relative to a descriptor of the directory, and
its mode is set on the descriptor, so a symlink planted there is never followed and never
chmod'ed. Temporary files left by a killed daemon are removed at start.

Write failures (ENOSPC, EACCES, ...) do not stop the daemon: they are counted in
thpwatch_textfile_write_errors_total{reason}, the source "textfile" is in error until the next
write succeeds, and they are logged once per change of reason, not once per interval.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import time
from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.metric import Metric

log = logging.getLogger(__name__)

FILE_NAME = "thpwatch.prom"
TEMP_PREFIX = f".{FILE_NAME}."
TEMP_SUFFIX = ".tmp"
MODE = 0o644  # node_exporter runs as its own user

WRITES = Metric("thpwatch_textfile_writes_total", "counter", "Textfile rewrites that succeeded.")
WRITE_ERRORS = Metric(
    "thpwatch_textfile_write_errors_total",
    "counter",
    "Textfile rewrites that failed, by errno name (ENOSPC, EACCES, ...).",
    ("reason",),
)
LAST_SUCCESS = Metric(
    "thpwatch_textfile_last_success_timestamp_seconds",
    "gauge",
    "When the textfile was last rewritten (Unix time); absent before the first success.",
    (),
    "seconds",
)
METRICS = (WRITES, WRITE_ERRORS, LAST_SUCCESS)


class TextfileError(Exception):
    """The textfile directory cannot be used (names the directory and why)."""


def check_directory(directory: Path) -> None:
    if not directory.is_dir():
        raise TextfileError(f"--textfile {directory}: not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise TextfileError(f"--textfile {directory}: not writable")


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files an earlier (killed) thpwatch left behind; returns what went.
    unlink() removes a symlink itself, never what it points at."""
    removed = []
    for path in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            pass
    if removed:
        log.info("removed %d stale textfile temp file(s) in %s", len(removed), directory)
    return removed


def write_atomically(directory: Path, content: bytes) -> Path:
    """Replace directory/thpwatch.prom with content; the old file stays whole until the rename."""
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        temp = f"{TEMP_PREFIX}{os.getpid()}.{secrets.token_hex(8)}{TEMP_SUFFIX}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o600, dir_fd=dir_fd)
        try:
            try:
                os.fchmod(fd, MODE)
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, FILE_NAME, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(temp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)
    return directory / FILE_NAME


def error_name(e: OSError) -> str:
    return errno.errorcode.get(e.errno or 0, "unknown")


class TextfileWriter:
    """Source "textfile": rewrites the file on request and reports how that went."""

    name = "textfile"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writes = 0
        self.errors: dict[str, int] = {}
        self.last_success: float | None = None
        self.last_error: str = ""

    def write(self, content: bytes) -> bool:
        try:
            write_atomically(self.directory, content)
        except OSError as e:
            reason = error_name(e)
            self.errors[reason] = self.errors.get(reason, 0) + 1
            message = f"cannot write {self.directory / FILE_NAME}: {e.strerror or reason}"
            if message != self.last_error:  # once per change, not every interval
                log.error("%s (counted in thpwatch_textfile_write_errors_total)", message)
            self.last_error = message
            return False
        if self.last_error:
            log.info("textfile in %s written again", self.directory)
        self.writes += 1
        self.last_success, self.last_error = time.time(), ""
        return True

    def collect(self, out: Emitter) -> None:
        out.add(WRITES, float(self.writes))
        for reason, count in sorted(self.errors.items()):
            out.add(WRITE_ERRORS, float(count), reason=reason)
        if self.last_success is not None:
            out.add(LAST_SUCCESS, self.last_success)
        if self.last_error:
            out.problem(self.last_error)
