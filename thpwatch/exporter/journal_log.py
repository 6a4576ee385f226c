"""Log lines journald files at their own priority: a "<N>" syslog prefix when stderr is the
journal (systemd sets JOURNAL_STREAM to stderr's device:inode, sd-daemon(3)); without it every
line of the service lands at the stream's default, info, and `journalctl -p warning` shows no
blocked probe. Elsewhere (a terminal, a pipe) lines stay unprefixed."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

FORMAT = "%(levelname)s %(name)s: %(message)s"


def syslog_priority(levelno: int) -> int:
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{syslog_priority(record.levelno)}>{super().format(record)}"


def stderr_is_journal(environ: Mapping[str, str] = os.environ, fd: int = 2) -> bool:
    stream = environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def configure(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JournalFormatter(FORMAT) if stderr_is_journal() else logging.Formatter(FORMAT)
    )
    logging.basicConfig(level=level.upper(), handlers=[handler])
