"""Per-size THP directories: transparent_hugepage/hugepages-<N>kB/{enabled,shmem_enabled,stats/*}.

Sizes and stat files are discovered: a kernel that adds a size (hugepages-1048576kB with PUD THP)
or a stat file shows up without a code change. One unreadable file is a problem of the reading,
not a reason to drop the other sizes and stats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thpwatch.kernel import facts
from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.heldfiles import HeldFiles, signature
from thpwatch.kernel.text import Mode, is_metric_word, parse_decimal, parse_mode, read_required


@dataclass(frozen=True)
class MthpSize:
    size: str  # as the directory spells it: "2048kB"
    size_bytes: int
    enabled: Mode | None  # None when the file is absent or unreadable (see problems)
    shmem_enabled: Mode | None
    stats: tuple[tuple[str, int], ...]  # (stat file name, value), sorted by name

    def stat(self, name: str) -> int | None:
        return dict(self.stats).get(name)


@dataclass(frozen=True)
class MthpReading:
    sizes: tuple[MthpSize, ...]  # ascending size
    problems: tuple[str, ...]  # one message per file that could not be used

    def size(self, size: str) -> MthpSize | None:
        return next((s for s in self.sizes if s.size == size), None)


@dataclass(frozen=True)
class _SizeLayout:
    """What exists of one size directory (discovered, not read)."""

    dir: Path
    size: str
    size_bytes: int
    modes: tuple[str, ...]  # which of enabled / shmem_enabled exist
    stat_files: tuple[tuple[str, Path], ...]  # (name, path), sorted by name
    bad_names: tuple[Path, ...]  # stat files whose names cannot be metric names


def read_mthp(root: Path) -> MthpReading:
    return _read(_discover(root / facts.THP_DIR), read_required)


class MthpReader:
    """read_mthp() for a process that reads it again and again: the sizes and their stat files
    are discovered again only when the THP directory changes (a size directory added or
    removed), and the files stay open (HeldFiles)."""

    def __init__(self, root: Path) -> None:
        self.thp = root / facts.THP_DIR
        self.files = HeldFiles()
        self._signature: tuple[int, int, int] | None = None
        self._layout: tuple[_SizeLayout, ...] = ()

    def read(self) -> MthpReading:
        sig = signature(self.thp)  # FileNotFoundError: no THP directory, as read_mthp says
        if sig != self._signature:
            self._layout, self._signature = _discover(self.thp), sig
            self.files.close()
        return _read(self._layout, self.files.text)

    def close(self) -> None:
        self.files.close()


def _discover(thp: Path) -> tuple[_SizeLayout, ...]:
    sizes = []
    for d in thp.iterdir():
        m = facts.MTHP_SIZE_DIR.fullmatch(d.name)
        if m and d.is_dir():
            stats_dir = d / facts.MTHP_STATS_DIR
            files = sorted(stats_dir.iterdir() if stats_dir.is_dir() else ())
            sizes.append(
                _SizeLayout(
                    d,
                    f"{m['kb']}kB",
                    int(m["kb"]) * 1024,
                    tuple(
                        n
                        for n in (facts.MTHP_ENABLED, facts.MTHP_SHMEM_ENABLED)
                        if (d / n).exists() or (d / n).is_symlink()  # dangling: broken
                    ),
                    tuple((f.name, f) for f in files if is_metric_word(f.name)),
                    tuple(f for f in files if not is_metric_word(f.name)),
                )
            )
    sizes.sort(key=lambda s: s.size_bytes)
    return tuple(sizes)


def _read(layout: tuple[_SizeLayout, ...], read: Callable[[Path], str]) -> MthpReading:
    problems: list[str] = []
    sizes = tuple(_read_size(size, read, problems) for size in layout)
    return MthpReading(sizes, tuple(problems))


def _read_size(size: _SizeLayout, read: Callable[[Path], str], problems: list[str]) -> MthpSize:
    def mode(name: str) -> Mode | None:
        if name not in size.modes:
            return None
        path = size.dir / name
        try:
            return parse_mode(path, read(path))
        except PermissionError:
            raise  # the source is blocked, not in error
        except (KernelFileError, OSError) as e:
            problems.append(_message(path, e))
            return None

    stats = []
    problems += [f"{f}: stat file name is not a metric name; skipped" for f in size.bad_names]
    for name, f in size.stat_files:
        try:
            stats.append((name, parse_decimal(f, read(f))))
        except PermissionError:
            raise
        except (KernelFileError, OSError) as e:
            problems.append(_message(f, e))
    return MthpSize(
        size.size,
        size.size_bytes,
        mode(facts.MTHP_ENABLED),
        mode(facts.MTHP_SHMEM_ENABLED),
        tuple(stats),
    )


def _message(path: Path, e: Exception) -> str:
    if isinstance(e, KernelFileError):
        return str(e)
    return f"{path}: {e.strerror or e}" if isinstance(e, OSError) else f"{path}: {e}"
