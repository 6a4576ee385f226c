"""cgroup memory.stat: "key value" lines, v1 and v2 alike."""

from __future__ import annotations

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import parse_int, shown


def parse_memory_stat(text: str, origin: str) -> dict[str, int]:
    """Every key with its 64-bit value. Raises KernelFileError naming origin and line for a
    line that is not `key value`, a value that is not a 64-bit number, or a key seen twice."""
    if text and not text.endswith("\n"):
        raise KernelFileError(origin, "truncated (no newline at the end)")
    stats: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        where = f"{origin}: line {number}"
        if len(parts) != 2 or not (parts[1].isascii() and parts[1].isdigit()):
            raise KernelFileError(origin, f"line {number}: not 'key value': {shown(line.strip())}")
        if parts[0] in stats:
            raise KernelFileError(origin, f"line {number}: {shown(parts[0])} again")
        stats[parts[0]] = parse_int(where, parts[1])
    if not stats:
        raise KernelFileError(origin, "empty")
    return stats
