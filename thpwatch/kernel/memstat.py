"""cgroup memory.stat: "key value" lines, v1 and v2 alike."""

from __future__ import annotations

import re

from thpwatch.kernel.errors import KernelFileError
from thpwatch.kernel.text import parse_int, parse_lines

_LINE = re.compile(r"(?P<name>\S+)\s+(?P<value>\d+)")


def parse_memory_stat(text: str, origin: str) -> dict[str, int]:
    """Every key with its 64-bit value. One cgroup's numbers are used whole or not at all: the
    first line that is not `key value` (a value that is not a 64-bit number, a key seen twice,
    a last line cut short) raises KernelFileError naming origin and the line."""
    stats = parse_lines(origin, text, _LINE, lambda where, m: parse_int(where, m["value"]))
    if stats.problems:
        raise KernelFileError(origin, stats.problems[0].removeprefix(f"{origin}: "))
    return dict(stats.values)
