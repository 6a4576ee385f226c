"""Per-size THP directories: transparent_hugepage/hugepages-<N>kB/{enabled,shmem_enabled,stats/*}.

Sizes and stat files are discovered: a kernel that adds a size (hugepages-1048576kB with PUD THP)
or a stat file shows up without a code change. One unreadable file is a problem of the reading,
not a reason to drop the other sizes and stats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.text import Mode, is_metric_word, read_decimal, read_mode
from thpwatch.sources.base import KernelFileError


@dataclass(frozen=True)
class MthpSize:
    size: str  # as the directory spells it: "2048kB"
    size_bytes: int
    enabled: Mode | None  # None when the file is absent or unreadable (see problems)
    shmem_enabled: Mode | None
    stats: tuple[tuple[str, int], ...]  # (stat file name, value), sorted by name

    def stat(self, name: str) -> int | None:
        return dict(self.stats).get(name)

    @staticmethod
    def is_gauge(stat: str) -> bool:
        """nr_* files are current values (gauges); every other stat file counts events."""
        return stat.startswith(facts.MTHP_GAUGE_PREFIX)


@dataclass(frozen=True)
class MthpReading:
    sizes: tuple[MthpSize, ...]  # ascending size
    problems: tuple[str, ...]  # one message per file that could not be used

    def size(self, size: str) -> MthpSize | None:
        return next((s for s in self.sizes if s.size == size), None)


def read_mthp(root: Path) -> MthpReading:
    thp = root / facts.THP_DIR
    problems: list[str] = []
    sizes = []
    for d in thp.iterdir():
        m = facts.MTHP_SIZE_DIR.fullmatch(d.name)
        if m and d.is_dir():
            sizes.append(_read_size(d, f"{m['kb']}kB", int(m["kb"]) * 1024, problems))
    sizes.sort(key=lambda s: s.size_bytes)
    return MthpReading(tuple(sizes), tuple(problems))


def _read_size(d: Path, size: str, size_bytes: int, problems: list[str]) -> MthpSize:
    def mode(name: str) -> Mode | None:
        path = d / name
        if not path.exists() and not path.is_symlink():  # a dangling link is broken, not absent
            return None
        try:
            return read_mode(path)
        except PermissionError:
            raise  # the source is blocked, not in error
        except (KernelFileError, OSError) as e:
            problems.append(_message(path, e))
            return None

    stats = []
    stats_dir = d / facts.MTHP_STATS_DIR
    for f in sorted(stats_dir.iterdir() if stats_dir.is_dir() else ()):
        if not is_metric_word(f.name):
            problems.append(f"{f}: stat file name is not a metric name; skipped")
            continue
        try:
            stats.append((f.name, read_decimal(f)))
        except PermissionError:
            raise
        except (KernelFileError, OSError) as e:
            problems.append(_message(f, e))
    return MthpSize(
        size, size_bytes, mode(facts.MTHP_ENABLED), mode(facts.MTHP_SHMEM_ENABLED), tuple(stats)
    )


def _message(path: Path, e: Exception) -> str:
    if isinstance(e, KernelFileError):
        return str(e)
    return f"{path}: {e.strerror or e}" if isinstance(e, OSError) else f"{path}: {e}"
