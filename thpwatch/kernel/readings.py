"""Parsed kernel files shared by the sources of one Snapshot, so each file is read once.

Two sources need /proc/pagetypeinfo (the pagetypeinfo source and the consistency checks), three
need the reserved pool, and so on. A Shared reading hands a value to each source at most once:
the second source of a Snapshot gets the first one's reading, the next Snapshot reads afresh.
That needs no knowledge of source order or of Snapshot boundaries; max_age only bounds how old a
shared reading can be when one source runs much less often than another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from thpwatch.kernel.mthp import MthpReader, MthpReading
from thpwatch.kernel.pagetypeinfo import PageTypeInfo, read_pagetypeinfo
from thpwatch.kernel.reserved_thp import ReservedThpPool, read_reserved_thp
from thpwatch.kernel.text import KeyValues
from thpwatch.kernel.thp_settings import read_hpage_pmd_size
from thpwatch.kernel.vmstat import read_vmstat

T = TypeVar("T")
# How old a reading one source took may be when another source of a later Snapshot is handed it
# (the BPF source's cross-check reads vmstat on its own schedule).
SHARED_MAX_AGE_S = 1.0


class Shared(Generic[T]):
    def __init__(self, read: Callable[[], T], max_age: float = SHARED_MAX_AGE_S) -> None:
        self._read = read
        self._max_age = max_age
        self._lock = threading.Lock()
        self._value: tuple[T] | None = None
        self._taken = 0.0
        self._users: set[str] = set()

    def get(self, user: str) -> T:
        """A reading `user` has not had yet: another user's recent one, or a fresh one.
        Read errors propagate to the caller and are not remembered."""
        with self._lock:
            now = time.monotonic()
            if self._value is None or user in self._users or now - self._taken > self._max_age:
                self._value, self._taken, self._users = (self._read(),), now, set()
            self._users.add(user)
            return self._value[0]

    def fresh(self, user: str) -> T:
        """What the file's own source asks for: with Shared, the same as get()."""
        return self.get(user)


class Kept(Generic[T]):
    """A reading too costly to take per Snapshot (/proc/pagetypeinfo): fresh() reads it (its
    source does, on its own interval, wrapped in sampler.Periodic); get() hands the last one to
    the other sources (the checks), reading only when there is none yet."""

    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._value: tuple[T] | None = None

    def fresh(self, user: str) -> T:
        with self._lock:
            self._value = (self._read(),)
            return self._value[0]

    def get(self, user: str) -> T:
        with self._lock:
            if self._value is None:
                self._value = (self._read(),)
            return self._value[0]


class Once(Generic[T]):
    """A value that cannot change until reboot (hpage_pmd_size): read on first use, then kept.
    Read errors propagate and are not remembered."""

    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._value: tuple[T] | None = None

    def get(self, user: str) -> T:
        with self._lock:
            if self._value is None:
                self._value = (self._read(),)
            return self._value[0]


class KernelReadings:
    """The kernel files more than one source reads, under one root directory."""

    def __init__(self, root: Path, pagetypeinfo_interval: float = 0.0) -> None:
        """pagetypeinfo_interval > 0: /proc/pagetypeinfo is Kept (read by its Periodic source)."""
        self.root = root
        self.hpage_pmd_size: Once[int] = Once(lambda: read_hpage_pmd_size(root))
        self.pool: Shared[ReservedThpPool | None] = Shared(lambda: read_reserved_thp(root))
        self.mthp: Shared[MthpReading] = Shared(MthpReader(root).read)  # files kept open
        self.vmstat: Shared[KeyValues] = Shared(lambda: read_vmstat(root))
        read = lambda: read_pagetypeinfo(root)  # noqa: E731
        self.pagetypeinfo: Shared[PageTypeInfo] | Kept[PageTypeInfo] = (
            Kept(read) if pagetypeinfo_interval > 0 else Shared(read)
        )
