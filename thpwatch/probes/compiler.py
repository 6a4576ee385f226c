"""Compiling a program text with bcc (clang in this process), and giving back what clang left."""

from __future__ import annotations

import contextlib
import ctypes
from typing import Any

from thpwatch.probes.bcc import BccEnv
from thpwatch.probes.errors import captured_stderr


class CompileFailed(Exception):
    """clang or the verifier refused the text: the first errors it printed, else the exception."""


def compile_program(env: BccEnv, text: str, flags: list[str]) -> Any:
    """A bcc.BPF object (loaded, nothing attached)."""
    messages: list[str] = []
    try:
        with captured_stderr(messages):
            return env.bpf_class(text=text.encode(), cflags=flags)
    except Exception as e:
        errors = [m for m in messages if "error:" in m and len(m) < 400]
        raise CompileFailed(" | ".join(errors[:3]) or str(e)) from None


def release_compiler_memory() -> None:
    """Give the heap that clang/LLVM left behind back to the kernel.

    bcc compiles in-process; glibc keeps the freed arenas, which measured about 40 MB of the
    daemon's resident memory for the rest of its life (bench/README.md)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim this way
        ctypes.CDLL("libc.so.6").malloc_trim(0)
