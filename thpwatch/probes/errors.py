"""Turning what bcc raises into a probe state: errno names and captured library output."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import tempfile
from collections.abc import Iterator

from thpwatch.snapshot import State


def errno_name(code: int) -> str:
    """5 -> "EIO"; unknown numbers -> "E<n>"."""
    return errno.errorcode.get(code, f"E{code}")


def result_name(ret: int) -> str:
    """A kernel return value as a label: 0 -> "ok", -12 -> "ENOMEM", other values as numbers."""
    if ret == 0:
        return "ok"
    if ret < 0:
        return errno_name(-ret)
    return str(ret)


def state_for_errno(code: int) -> State:
    """EPERM: not allowed (blocked); ENOENT/ESRCH: nothing to attach to (absent); anything
    else (EACCES from the verifier, EINVAL) is a failure of the program."""
    if code == errno.EPERM:
        return State.BLOCKED
    if code in (errno.ENOENT, errno.ESRCH):
        return State.ABSENT
    return State.ERROR


def last_errno() -> int:
    """errno left by bcc's last libbcc call (bcc loads libbcc with use_errno=True)."""
    return ctypes.get_errno()


def clear_errno() -> None:
    """So that a failure that sets no errno is not blamed on an earlier one."""
    ctypes.set_errno(0)


@contextlib.contextmanager
def captured_stderr(into: list[str]) -> Iterator[None]:
    """Collect what libbcc/clang write to file descriptor 2 (compile errors, verifier and
    attach messages) so it ends up in a probe's reason instead of on the user's terminal."""
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            into.extend(line for line in text.splitlines() if line.strip())
