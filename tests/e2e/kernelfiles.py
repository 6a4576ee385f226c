"""Reading the kernel's (or a fixture tree's) THP files directly, to check what thpwatch exported.

Deliberately independent of thpwatch's readers: an e2e test compares two implementations.
"""

from __future__ import annotations

import re
from pathlib import Path

THP = Path("sys/kernel/mm/transparent_hugepage")
RESERVED = Path("sys/kernel/mm/reserved_thp")


def size_dirs(root: Path) -> dict[str, Path]:
    """{"2048kB": path} for every hugepages-<size> directory."""
    return {
        d.name.removeprefix("hugepages-"): d for d in sorted((root / THP).glob("hugepages-*kB"))
    }


def stats(size_dir: Path) -> dict[str, int]:
    return {f.name: int(f.read_text()) for f in sorted((size_dir / "stats").iterdir())}


def current_mode(path: Path) -> str:
    match = re.search(r"\[(\w+)\]", path.read_text())
    assert match, f"{path}: no [mode] in {path.read_text()!r}"
    return match.group(1)


def reserved_pool(root: Path) -> dict[str, int]:
    return {
        name: int((root / RESERVED / f"{name}_hpages").read_text())
        for name in ("total", "free", "used")
    }


def hpage_pmd_size(root: Path) -> int:
    return int((root / THP / "hpage_pmd_size").read_text())
