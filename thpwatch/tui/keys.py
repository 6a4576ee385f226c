"""Raw keyboard input: stdin in cbreak mode (keys arrive one at a time, unechoed), read with a
timeout so the sampling loop never blocks on the keyboard. The terminal is restored on every
way out: normal exit, exception, SIGTERM."""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

ESC = "\x1b"


@contextmanager
def cbreak(fd: int | None = None) -> Iterator[int]:
    """Put the terminal on fd in cbreak mode for the duration; SIGTERM exits through here."""
    fd = sys.stdin.fileno() if fd is None else fd
    saved = termios.tcgetattr(fd)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGTERM, previous)


def read_key(fd: int, timeout: float) -> str | None:
    """One key press, or None when none came within timeout seconds.

    Escape sequences (arrows, function keys) come back whole, so a lone ESC is told apart from
    the start of a sequence.
    """
    ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
    if not ready:
        return None
    data = os.read(fd, 1)
    if not data:
        return None
    if data == ESC.encode():
        while select.select([fd], [], [], 0.02)[0]:
            more = os.read(fd, 16)
            if not more:
                break
            data += more
    return data.decode("utf-8", errors="replace")
