"""Per-cgroup THP memory: cgroup v2 memory.stat, and the v1 memory controller's rss_huge.

Hosts are pure v2 (memory.stat: anon_thp, file_thp, shmem_thp, thp_fault_alloc,
thp_collapse_alloc) or a v1/v2 hybrid whose memory controller is v1 (memory.stat: rss_huge,
total_rss_huge) [docs/kernel-facts.md#cgroups]. Both are read where present. The walk is bounded and
emits the top N cgroups by THP memory. v2 values and v1 total_* include descendants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from thpwatch.emitter import Emitter
from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.memstat import parse_memory_stat
from thpwatch.kernel.text import MAX_VALUE_BYTES, label_text, read_text
from thpwatch.metric import Metric
from thpwatch.snapshot import SourceStatus, State
from thpwatch.sources.base import SourceAbsent, SourceBlocked

# memory.stat key -> metric, keys in the order of facts; the first ranks its hierarchy's cgroups.
V2_METRICS = dict(zip(facts.CGROUP2_MEMSTAT_THP, (  # key i -> metric i
    Metric(
        "thpwatch_cgroup_anon_thp_bytes", "gauge", "Anonymous THP memory (cgroup v2 anon_thp).",
        ("cgroup",), "bytes",
    ),
    Metric(
        "thpwatch_cgroup_file_thp_bytes", "gauge", "File THP memory (cgroup v2 file_thp).",
        ("cgroup",), "bytes",
    ),
    Metric(
        "thpwatch_cgroup_shmem_thp_bytes", "gauge", "Shmem THP memory (cgroup v2 shmem_thp).",
        ("cgroup",), "bytes",
    ),
    Metric(
        "thpwatch_cgroup_thp_fault_alloc_total", "counter",
        "THPs allocated at page fault (cgroup v2 thp_fault_alloc).", ("cgroup",),
    ),
    Metric(
        "thpwatch_cgroup_thp_collapse_alloc_total", "counter",
        "THPs allocated by khugepaged collapse (cgroup v2 thp_collapse_alloc).", ("cgroup",),
    ),
), strict=True))  # fmt: skip
V1_METRICS = dict(zip(facts.CGROUP1_MEMSTAT_THP, (  # key i -> metric i
    Metric(
        "thpwatch_cgroup_v1_total_rss_huge_bytes", "gauge",
        "Anonymous THP memory of the cgroup and its descendants (cgroup v1 total_rss_huge).",
        ("cgroup",), "bytes",
    ),
    Metric(
        "thpwatch_cgroup_v1_rss_huge_bytes", "gauge",
        "Anonymous THP memory charged to the cgroup itself (cgroup v1 rss_huge).",
        ("cgroup",), "bytes",
    ),
), strict=True))  # fmt: skip
SCAN_CGROUPS = Metric(
    "thpwatch_cgroup_scan_cgroups",
    "gauge",
    "Cgroups whose memory.stat the last walk read, by hierarchy (v1, v2).",
    ("hierarchy",),
)
SCAN_SKIPPED = Metric(
    "thpwatch_cgroup_scan_skipped",
    "gauge",
    "Cgroups the last walk could not read, by reason (vanished, malformed, unreadable).",
    ("reason",),
)
SCAN_TRUNCATED = Metric(
    "thpwatch_cgroup_scan_truncated",
    "gauge",
    "1 if the last walk of a hierarchy stopped at its bound (more cgroups than max_cgroups).",
    ("hierarchy",),
)
METRICS = (
    *V2_METRICS.values(),
    *V1_METRICS.values(),
    SCAN_CGROUPS,
    SCAN_SKIPPED,
    SCAN_TRUNCATED,
)


@dataclass(frozen=True)
class Hierarchy:
    version: str  # "v1" or "v2"
    path: Path  # the mount point
    metrics: dict[str, Metric]


def memory_hierarchies(root: Path) -> list[Hierarchy]:
    """Mounted hierarchies that have the memory controller: v2 (pure or hybrid), v1."""
    found = []
    base = root / facts.CGROUP_ROOT
    for v2 in (base, base / facts.CGROUP2_UNIFIED):
        try:  # a broken file (dangling symlink, FIFO, ...) is an error, not "no v2 here"
            listed = read_text(v2 / facts.CGROUP2_CONTROLLERS, MAX_VALUE_BYTES).split()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as e:
            raise SourceBlocked(f"{e.filename}: permission denied (root can read it)") from None
        if "memory" in listed:
            found.append(Hierarchy("v2", v2, V2_METRICS))
            break
    v1 = root / facts.CGROUP1_MEMORY
    if (v1 / facts.CGROUP_MEMSTAT).is_file():
        found.append(Hierarchy("v1", v1, V1_METRICS))
    return found


def walk(top: Path, max_depth: int) -> Iterator[Path]:
    """top and its descendant directories, breadth first, at most max_depth below top."""
    level = [top]
    for depth in range(max_depth + 1):
        next_level = []
        for d in level:
            yield d
            if depth < max_depth:
                try:
                    next_level.extend(sorted(p for p in d.iterdir() if p.is_dir()))
                except OSError:
                    continue  # removed while we walked
        level = next_level


STAT_MAX_BYTES = 1 << 20  # memory.stat is ~2 KiB


class CgroupScan:
    """Source "cgroups": the top N cgroups by THP memory in each memory hierarchy."""

    name = "cgroups"

    def __init__(
        self, root: Path = Path("/"), *, top: int = 10, max_cgroups: int = 2000, max_depth: int = 8
    ) -> None:
        self.root, self.top = root, top
        self.max_cgroups, self.max_depth = max_cgroups, max_depth

    def collect(self, out: Emitter) -> None:
        hierarchies = memory_hierarchies(self.root)
        if not hierarchies:
            raise SourceAbsent(
                f"no cgroup memory controller under {self.root / facts.CGROUP_ROOT} "
                "(neither a cgroup v2 hierarchy with memory nor the v1 memory controller)"
            )
        skipped: Counter[str] = Counter()
        for h in hierarchies:
            self._scan(h, out, skipped)
        for reason in ("vanished", "malformed", "unreadable"):
            out.add(SCAN_SKIPPED, float(skipped[reason]), reason=reason)
        if skipped["unreadable"]:
            raise SourceBlocked(
                f"{skipped['unreadable']} cgroup memory.stat files unreadable (permission denied;"
                " root can read them): the top cgroups may be missing some"
            )

    def _scan(self, h: Hierarchy, out: Emitter, skipped: Counter[str]) -> None:
        rows: list[tuple[str, dict[str, int]]] = []
        truncated = False
        for n, d in enumerate(walk(h.path, self.max_depth)):
            if n >= self.max_cgroups:
                # Reaching the bound is the design working, not a failure: said, not an error.
                truncated = True
                reason = f"{h.path}: walk stopped at its bound of {n} cgroup directories"
                out.status(SourceStatus(f"cgroups.bound.{h.version}", "source", State.OK, reason))
                break
            stat_path = d / facts.CGROUP_MEMSTAT
            try:
                stats = parse_memory_stat(read_text(stat_path, STAT_MAX_BYTES), str(stat_path))
            except FileNotFoundError:
                if d.exists():
                    continue  # a v2 cgroup without the memory controller enabled
                skipped["vanished"] += 1
                continue
            except PermissionError:
                skipped["unreadable"] += 1
                continue
            except KernelFileError as e:
                skipped["malformed"] += 1
                out.problem(str(e))
                continue
            rel = d.relative_to(h.path)
            # Cgroup names are bytes chosen by whoever may mkdir: escaped, capped, never fatal.
            rows.append(("/" if rel == Path(".") else label_text(f"/{rel.as_posix()}"), stats))
        out.add(SCAN_TRUNCATED, float(truncated), hierarchy=h.version)
        out.add(SCAN_CGROUPS, float(len(rows)), hierarchy=h.version)
        rank_key = next(iter(h.metrics))
        rows.sort(key=lambda row: row[1].get(rank_key, 0), reverse=True)
        for name, stats in rows[: self.top]:
            for key, metric in h.metrics.items():
                if key in stats:
                    out.add(metric, float(stats[key]), cgroup=name)
