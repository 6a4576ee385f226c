"""What a source is: a named reader of the kernel that emits Samples and reports its state.

A source's collect() adds samples to an Emitter. It raises SourceAbsent when the kernel lacks
what it reads, SourceBlocked when it may not read it, and KernelFileError (or records a problem
and carries on) when a file is malformed. The sampler turns all of that into a SourceStatus;
nothing a source raises reaches the user as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from thpwatch.emitter import Emitter


class SourceAbsent(Exception):
    """The running kernel does not have what this source reads."""


class SourceBlocked(Exception):
    """It exists, but this process is not allowed to read it."""


class Source(Protocol):
    name: str

    def collect(self, out: Emitter) -> None: ...


@contextmanager
def kernel_files() -> Iterator[None]:
    """Missing file -> the source is absent; not allowed -> blocked (the sampler reports both)."""
    try:
        yield
    except FileNotFoundError as e:
        raise SourceAbsent(f"{e.filename}: not present on this kernel") from None
    except PermissionError as e:
        raise SourceBlocked(f"{e.filename}: permission denied (root can read it)") from None
