"""Per-process THP use: who holds reserved THPs, THP memory, MADV_HUGEPAGE VMAs, page tables.

A scan reads /proc/<pid>/status (no page-table walk) and, where it is safe, /proc/<pid>/smaps.
It is bounded (processes, seconds, bytes) and never destructive: on kernels with PUD THP
reading smaps splits every 1 GiB THP of the process (docs/kernel-facts.md#pud-thp), so smaps
walks are off there unless forced, and the reason is in the `procscan.smaps` status. A process
that exits mid-scan is skipped and counted. Expensive: run it under sampler.Periodic.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TextIO

from thpwatch.emitter import Emitter
from thpwatch.features import detected
from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.pid_status import parse_status
from thpwatch.kernel.smaps import SmapsSummary, summarize_smaps
from thpwatch.kernel.text import open_checked, read_file
from thpwatch.metric import Metric
from thpwatch.snapshot import SourceStatus, State
from thpwatch.sources.base import SourceAbsent, SourceBlocked

# (attribute of ProcessMemory = metric stem, help, read from smaps)
_FIELDS = (
    ("anon_huge_bytes", "Anonymous THP memory (AnonHugePages)", True),
    ("reserved_thp_bytes", "Size of Reserved THP VMAs (VmFlags rt)", True),
    ("reserved_thp_resident_bytes", "THP memory faulted into Reserved THP VMAs", True),
    ("hugepage_vma_bytes", "Size of MADV_HUGEPAGE VMAs (VmFlags hg)", True),
    ("pagetable_bytes", "Page-table memory (VmPTE)", False),
    ("anon_rss_bytes", "Resident anonymous memory (RssAnon)", False),
)

# field stem -> its metric per top process, and summed over the scan
PER_PROCESS = {
    stem: Metric(
        f"thpwatch_process_{stem}",
        "gauge",
        f"{text}, for the top processes (grouped by comm; pid label only if enabled).",
        ("comm", "pid"),
        "bytes",
    )
    for stem, text, _ in _FIELDS
}
SCAN_TOTAL = {
    stem: Metric(
        f"thpwatch_process_scan_{stem}", "gauge", f"{text}, summed over the scan.", (), "bytes"
    )
    for stem, text, _ in _FIELDS
}
SCAN_PROCESSES = Metric(
    "thpwatch_process_scan_processes", "gauge", "Processes read by the last scan."
)
SCAN_RESERVED_THP_PROCESSES = Metric(
    "thpwatch_process_scan_reserved_thp_processes",
    "gauge",
    "Processes holding at least one Reserved THP VMA.",
)
SCAN_SKIPPED = Metric(
    "thpwatch_process_scan_skipped",
    "gauge",
    "Processes the last scan did not read, by reason (vanished, unreadable, malformed, budget).",
    ("reason",),
)
METRICS = (
    *PER_PROCESS.values(),
    *SCAN_TOTAL.values(),
    SCAN_PROCESSES,
    SCAN_RESERVED_THP_PROCESSES,
    SCAN_SKIPPED,
)

SMAPS_STATUS = "procscan.smaps"
BOUND_STATUS = "procscan.bound"  # present only when a scan stopped at one of its bounds
MAX_PROBLEMS = 10  # malformed processes named in the status; the rest are counted


@dataclass
class ProcessMemory:
    pid: int
    comm: str
    pagetable_bytes: int = 0
    anon_rss_bytes: int = 0
    smaps: SmapsSummary | None = None  # None when smaps was not read

    def value(self, attribute: str) -> int | None:
        if hasattr(self, attribute):
            return getattr(self, attribute)
        return None if self.smaps is None else getattr(self.smaps, attribute)

    def rank(self) -> tuple[int, ...]:
        keys = ("reserved_thp_bytes", "anon_huge_bytes", "hugepage_vma_bytes", "pagetable_bytes")
        return tuple(self.value(k) or 0 for k in keys)


class _OverBudget(Exception):
    """A bound was reached while reading one process's smaps: says which."""


@dataclass
class Budget:
    """Bounds one scan; checked between processes and while reading smaps."""

    max_processes: int = 4096
    max_seconds: float = 2.0
    max_bytes: int = 64 << 20
    _start: float = field(default_factory=time.monotonic)
    read_bytes: int = 0
    processes: int = 0

    def exhausted(self) -> str:
        """Which bound was reached, or ""."""
        if self.processes >= self.max_processes:
            return f"{self.max_processes} processes"
        if time.monotonic() - self._start >= self.max_seconds:
            return f"{self.max_seconds:g} s"
        if self.read_bytes >= self.max_bytes:
            return f"{self.max_bytes} bytes of smaps"
        return ""

    def lines(self, f: TextIO, origin: str) -> Iterator[str]:
        for number, line in enumerate(f, 1):
            if not line.endswith("\n"):
                raise KernelFileError(origin, f"line {number}: truncated (no newline)")
            self.read_bytes += len(line)
            if self.read_bytes > self.max_bytes:
                raise _OverBudget(f"{self.max_bytes} bytes of smaps")
            if time.monotonic() - self._start >= self.max_seconds:
                raise _OverBudget(f"{self.max_seconds:g} s")
            yield line


STATUS_MAX_BYTES = 64 << 10  # a status file is ~1.5 KiB


def read_process(pid_dir: Path, walk_smaps: bool, budget: Budget) -> ProcessMemory | None:
    """One process; None for a kernel thread. Raises OSError (gone, denied), KernelFileError.
    Names (comm, mapped files) are bytes: not UTF-8 is escaped, never an error."""
    status_path = pid_dir / facts.PROC_PID_STATUS
    raw = read_file(status_path, STATUS_MAX_BYTES)
    status = parse_status(raw.decode("utf-8", "surrogateescape"), str(status_path))
    if status.pagetable_bytes is None:
        return None  # no mm: kernel thread (or a zombie)
    proc = ProcessMemory(
        int(pid_dir.name), status.comm, status.pagetable_bytes, status.anon_rss_bytes or 0
    )
    if walk_smaps:
        smaps_path = pid_dir / facts.PROC_PID_SMAPS
        fd = open_checked(smaps_path)
        with open(fd, encoding="utf-8", errors="surrogateescape") as f:
            proc.smaps = summarize_smaps(budget.lines(f, str(smaps_path)), str(smaps_path))
    return proc


def _skip_reason(error: Exception) -> str:
    if isinstance(error, PermissionError):
        return "unreadable"
    if isinstance(error, KernelFileError):
        return "malformed"
    return "vanished"  # ENOENT, ESRCH: the process exited while we read it


def _group_by_comm(procs: list[ProcessMemory]) -> list[ProcessMemory]:
    """Sum processes that share a comm, so comm alone is a unique label."""
    groups: dict[str, ProcessMemory] = {}
    for p in procs:
        g = groups.setdefault(p.comm, ProcessMemory(0, p.comm, smaps=None))
        g.pagetable_bytes += p.pagetable_bytes
        g.anon_rss_bytes += p.anon_rss_bytes
        if p.smaps is not None:
            g.smaps = g.smaps or SmapsSummary()
            for f in fields(SmapsSummary):
                setattr(g.smaps, f.name, getattr(g.smaps, f.name) + getattr(p.smaps, f.name))
    return list(groups.values())


class ProcScan:
    """Source "procscan". smaps: "auto" (walk unless it would split PUD THPs), "on", "off"."""

    name = "procscan"

    def __init__(
        self,
        root: Path = Path("/"),
        *,
        top: int = 10,
        pid_labels: bool = False,
        smaps: str = "auto",
        budget: Callable[[], Budget] = Budget,
    ) -> None:
        if smaps not in ("auto", "on", "off"):
            raise ValueError(f"smaps must be auto, on or off, not {smaps!r}")
        self.root, self.top, self.pid_labels, self.smaps = root, top, pid_labels, smaps
        self.budget = budget

    def _smaps_decision(self) -> tuple[bool, SourceStatus]:
        # Off is "absent", not "blocked": nothing is refused, thpwatch chooses not to walk.
        if self.smaps == "off":
            return False, SourceStatus(SMAPS_STATUS, "source", State.ABSENT, "turned off")
        hazard = detected(self.root).page_walks_split_pud_thps()
        if hazard and self.smaps == "auto":
            reason = f"off by default: {hazard}; force with --process-smaps=on"
            return False, SourceStatus(SMAPS_STATUS, "source", State.ABSENT, reason)
        reason = f"forced on although {hazard}" if hazard else ""
        return True, SourceStatus(SMAPS_STATUS, "source", State.OK, reason)

    def collect(self, out: Emitter) -> None:
        proc = self.root / "proc"
        if not proc.is_dir():
            raise SourceAbsent(f"{proc}: no such directory")
        walk, smaps_status = self._smaps_decision()
        out.status(smaps_status)
        budget = self.budget()
        pids = sorted((p for p in proc.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        found: list[ProcessMemory] = []
        skipped: Counter[str] = Counter()
        for i, pid_dir in enumerate(pids):
            bound = budget.exhausted()
            if not bound:
                budget.processes += 1
                try:
                    p = read_process(pid_dir, walk, budget)
                except _OverBudget as e:
                    bound = str(e)
                except (OSError, KernelFileError) as e:
                    skipped[_skip_reason(e)] += 1
                    if isinstance(e, KernelFileError) and skipped["malformed"] <= MAX_PROBLEMS:
                        out.problem(str(e))
                    continue
            if bound:
                # Reaching a bound is the design working, not a failure: said, not an error.
                skipped["budget"] += len(pids) - i
                reason = f"stopped at its bound of {bound}: {len(pids) - i} processes not read"
                out.status(SourceStatus(BOUND_STATUS, "source", State.OK, reason))
                break
            if p is not None:
                found.append(p)
        self._emit(out, found, skipped, walk)
        if skipped["malformed"] > MAX_PROBLEMS:
            out.problem(f"and {skipped['malformed'] - MAX_PROBLEMS} more malformed processes")
        # Most processes with memory refused us (kernel threads have none to read): a scan of the
        # few left would pass for the host's.
        if skipped["unreadable"] > len(found):
            raise SourceBlocked(
                f"{skipped['unreadable']} of {skipped['unreadable'] + len(found)} processes"
                f" unreadable (permission denied; root can read them): see {SCAN_SKIPPED.name}"
            )

    def _emit(
        self, out: Emitter, found: list[ProcessMemory], skipped: Counter[str], walk: bool
    ) -> None:
        out.add(SCAN_PROCESSES, float(len(found)))
        for reason in ("vanished", "unreadable", "malformed", "budget"):
            out.add(SCAN_SKIPPED, float(skipped[reason]), reason=reason)
        usable = [stem for stem, _, from_smaps in _FIELDS if walk or not from_smaps]
        for stem in usable:
            total = sum(p.value(stem) or 0 for p in found)
            out.add(SCAN_TOTAL[stem], float(total))
        if walk:
            holders = sum(1 for p in found if p.smaps and p.smaps.reserved_thp_vmas)
            out.add(SCAN_RESERVED_THP_PROCESSES, float(holders))
        rows = found if self.pid_labels else _group_by_comm(found)
        for p in sorted(rows, key=ProcessMemory.rank, reverse=True)[: self.top]:
            labels = {"comm": p.comm, **({"pid": str(p.pid)} if self.pid_labels else {})}
            for stem in usable:
                out.add(PER_PROCESS[stem], float(p.value(stem) or 0), **labels)
