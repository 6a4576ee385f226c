"""node_exporter textfile-collector output: one .prom file, replaced atomically.

The file is written to a temporary name in the same directory (node_exporter only reads *.prom)
and renamed over the old one, so node_exporter never sees half a file. Temporary files left by
a killed daemon are removed at start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

FILE_NAME = "thpwatch.prom"
TEMP_PREFIX = f".{FILE_NAME}."
TEMP_SUFFIX = ".tmp"


class TextfileError(Exception):
    """The textfile directory cannot be used (names the directory and why)."""


def check_directory(directory: Path) -> None:
    if not directory.is_dir():
        raise TextfileError(f"--textfile {directory}: not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise TextfileError(f"--textfile {directory}: not writable")


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files an earlier (killed) thpwatch left behind; returns what went."""
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
    target = directory / FILE_NAME
    temp = directory / f"{TEMP_PREFIX}{os.getpid()}{TEMP_SUFFIX}"
    try:
        with open(temp, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target
