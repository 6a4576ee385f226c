"""cgroup memory.stat: "key value" lines, v1 and v2 alike."""

from __future__ import annotations

from thpwatch.sources.base import KernelFileError


def parse_memory_stat(text: str, origin: str) -> dict[str, int]:
    """Every key with its integer value. Raises KernelFileError naming origin and line."""
    stats: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise KernelFileError(origin, f"line {number}: not 'key value': {line.strip()!r}")
        stats[parts[0]] = int(parts[1])
    if not stats:
        raise KernelFileError(origin, "empty")
    return stats
