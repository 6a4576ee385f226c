"""Kernel log source: Reserved THP's boot line, boot-parameter errors, leaked-OOM lines.

Reads /dev/kmsg without consuming it (every opener has its own read position; nothing is
taken from other readers), non-blocking, one record per read(). The descriptor stays open
between collects, so each collect reads only the records logged since the last one. Absent
without /dev/kmsg, blocked when the kernel refuses (dmesg_restrict, no CAP_SYSLOG).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.kmsg import KmsgFacts, parse_record
from thpwatch.kernel.text import label_text, open_checked
from thpwatch.metric import Metric
from thpwatch.snapshot import labels_of
from thpwatch.sources.base import SourceAbsent, SourceBlocked

BOOT_RESERVED_HPAGES = Metric(
    "thpwatch_kmsg_boot_reserved_hpages",
    "gauge",
    "Reserved THP pool set up at boot, from the kernel's 'reserved N/M PMD THP pageblocks'.",
)
BOOT_REQUESTED_HPAGES = Metric(
    "thpwatch_kmsg_boot_requested_hpages",
    "gauge",
    "Reserved THP pool asked for at boot (thp_reserved_nr), from the same log line.",
)
BOOT_PAGEBLOCK_BYTES = Metric(
    "thpwatch_kmsg_boot_pageblock_bytes",
    "gauge",
    "Size of one reserved pageblock, from the same log line.",
    (),
    "bytes",
)
BOOT_PARAM_ERRORS = Metric(
    "thpwatch_kmsg_boot_param_errors",
    "gauge",
    "Reserved THP boot parameters the kernel rejected (pool disabled), by parameter and value.",
    ("param", "value"),
)
OOM_LEAKED_LINES = Metric(
    "thpwatch_kmsg_oom_leaked_lines_total",
    "counter",
    "'VM_FAULT_OOM leaked out to the #PF handler' lines (a reserved fault without a block; "
    "the kernel rate-limits them).",
)
LOST_RECORDS = Metric(
    "thpwatch_kmsg_lost_records_total",
    "counter",
    "Records overwritten in the kernel's ring buffer before thpwatch read them.",
)
METRICS = (
    BOOT_RESERVED_HPAGES,
    BOOT_REQUESTED_HPAGES,
    BOOT_PAGEBLOCK_BYTES,
    BOOT_PARAM_ERRORS,
    OOM_LEAKED_LINES,
    LOST_RECORDS,
)

READ_SIZE = 8192  # /dev/kmsg returns one record per read; a smaller buffer gets EINVAL
MAX_BYTES_PER_COLLECT = 4 << 20  # a first read of a big ring buffer is spread over collects


class KmsgSource:
    name = "kmsg"

    def __init__(self, root: Path = Path("/")) -> None:
        self.path = root / facts.DEV_KMSG
        self.facts = KmsgFacts()
        self.lost_records = 0
        self._fd: int | None = None
        self._pending = b""  # a partial line (regular files, i.e. fixtures)
        self._last_seq = -1

    def _open(self) -> int:
        if self._fd is None:
            try:
                # A dangling symlink, a loop, a FIFO or a directory there: KernelFileError.
                self._fd = open_checked(self.path)
            except FileNotFoundError as e:
                raise SourceAbsent(f"{self.path}: no such file") from e
            except PermissionError as e:
                raise SourceBlocked(
                    f"{self.path}: {e.strerror} (needs root or CAP_SYSLOG with dmesg_restrict=1)"
                ) from e
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _chunks(self, fd: int):
        read = 0
        while read < MAX_BYTES_PER_COLLECT:
            try:
                chunk = os.read(fd, READ_SIZE)
            except BlockingIOError:
                return  # EAGAIN: no more records for now
            except OSError as e:
                if e.errno == errno.EPIPE:
                    self.lost_records += 1  # overwritten; the next read goes on after the gap
                    continue
                raise
            if not chunk:
                return  # end of a regular file
            read += len(chunk)
            yield chunk

    def collect(self, out: Emitter) -> None:
        fd = self._open()
        bad = 0
        for chunk in self._chunks(fd):
            data = self._pending + chunk
            *lines, self._pending = data.split(b"\n")
            for raw in lines:
                if not raw or raw[:1] == b" ":
                    continue  # continuation line (KEY=value) of the record before
                try:
                    record = parse_record(raw.decode("utf-8", "replace"))
                    if record.seq > self._last_seq:
                        self._last_seq = record.seq
                        self.facts.add(record.message)
                except ValueError as e:
                    bad += 1
                    if bad <= 3:
                        out.problem(f"{self.path}: {e}")
        if bad > 3:
            out.problem(f"{self.path}: {bad - 3} more malformed records")
        self._emit(out)

    def _emit(self, out: Emitter) -> None:
        f = self.facts
        if f.reserved_hpages is not None:
            out.add(BOOT_RESERVED_HPAGES, float(f.reserved_hpages))
            out.add(BOOT_REQUESTED_HPAGES, float(f.requested_hpages or 0))
            out.add(BOOT_PAGEBLOCK_BYTES, float(f.pageblock_bytes or 0))
        for (param, value), count in f.param_errors.items():
            labels = labels_of(param=param, value=label_text(value))
            out.add(BOOT_PARAM_ERRORS, float(count), labels)
        out.add(OOM_LEAKED_LINES, float(f.oom_leaked_lines))
        out.add(LOST_RECORDS, float(self.lost_records))
